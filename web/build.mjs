// Bundle the dashboard into the Python package (server/static), and record the hash of the sources it
// was built from, so a test can tell when the committed bundle is older than web/src.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const out = join(web, "..", "server", "static");

function files(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

// the same digest as tests/test_dashboard_bundle.py: sorted paths relative to web/, each path and content
export function sourceHash() {
  const hash = createHash("sha256");
  const paths = [...files(join(web, "src")), join(web, "package.json")]
    .map((path) => relative(web, path).split("\\").join("/"))
    .sort();
  for (const path of paths) {
    hash.update(path + "\0");
    hash.update(readFileSync(join(web, path)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(web, "src", "main.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(web, "src", "index.html"), join(out, "index.html"));
writeFileSync(join(out, "build.json"), JSON.stringify({ source_sha256: sourceHash() }, null, 1) + "\n");
