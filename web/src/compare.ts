// The compare view: two or more runs side by side. Config keys whose values differ are highlighted, keys
// only some runs have are marked; summaries side by side; the runs' charts overlaid (the workspace's panels).
import { el } from "./dom";
import { pageParams, runHash } from "./url";
import { exactText, flatten } from "./values";
import { fetchRun, stateBadge, type RunData } from "./runpage";

// one row per key over the runs: "same", "differs" (present everywhere, values differ) or "partial" (missing somewhere)
export function difference(values: Record<string, unknown>[]): Map<string, "same" | "differs" | "partial"> {
  const keys = [...new Set(values.flatMap((v) => Object.keys(v)))].sort((a, b) => a.localeCompare(b));
  const kinds = new Map<string, "same" | "differs" | "partial">();
  for (const key of keys) {
    if (!values.every((v) => key in v)) kinds.set(key, "partial");
    else kinds.set(key, new Set(values.map((v) => JSON.stringify(v[key]))).size > 1 ? "differs" : "same");
  }
  return kinds;
}

function sideBySide(label: string, id: string, runs: RunData[], values: Record<string, unknown>[], onlyDiffs: boolean): HTMLElement {
  const head = el("tr", {}, el("th", { scope: "col" }, "key"), ...runs.map((r) => el("th", { scope: "col" }, r.run.name)));
  const body = el("tbody", {});
  for (const [key, kind] of difference(values)) {
    const row = el("tr", { class: kind, "data-key": key }, el("th", { scope: "row" }, key));
    for (const v of values) {
      row.append(key in v ? el("td", {}, exactText(v[key])) : el("td", { class: "missing", title: "not in this run" }, "—"));
    }
    row.hidden = onlyDiffs && kind === "same";
    body.append(row);
  }
  return el("table", { class: "compare-table", id, "aria-label": label }, el("thead", {}, head), body);
}

// `charts` makes the workspace's chart panels for the compared runs; `save` writes the view to the URL
export async function comparePage(
  root: HTMLElement, refs: string[], params: URLSearchParams, charts: () => HTMLElement, save: () => void,
): Promise<void> {
  const page = el("main", { class: "compare-page" });
  root.append(page);
  if (refs.length < 2) {
    page.append(el("p", { class: "problem", role: "alert" }, "select two or more runs in the table to compare them"));
    page.dataset.ready = "error";
    return;
  }
  let runs: RunData[];
  try {
    runs = await Promise.all(refs.map(fetchRun));
  } catch (error) {
    page.append(el("p", { class: "problem", role: "alert" }, error instanceof Error ? error.message : String(error)));
    page.dataset.ready = "error";
    return;
  }
  document.title = `compare ${runs.length} runs · tracker`;
  const only = el("input", { type: "checkbox", id: "only-differences" }) as HTMLInputElement;
  only.checked = params.get("diff") === "1";
  const configs = runs.map((r) => flatten(r.run.config));
  const summaries = runs.map((r) => Object.fromEntries(Object.entries(r.run.summary).filter(([key]) => !key.startsWith("_"))));
  const tables = el("div", {});
  const draw = (): void => {
    tables.replaceChildren(
      el("section", { class: "run-section", "aria-label": "Config" }, el("h2", {}, "Config"), sideBySide("config", "compare-config", runs, configs, only.checked)),
      el("section", { class: "run-section", "aria-label": "Summary" }, el("h2", {}, "Summary"), sideBySide("summary", "compare-summary", runs, summaries, only.checked)),
    );
  };
  only.addEventListener("change", () => { pageParams.set("diff", only.checked ? "1" : ""); save(); draw(); });
  draw();
  const heading = el("ul", { class: "compared" });
  for (const [index, data] of runs.entries()) {
    heading.append(el("li", {}, stateBadge(data.run.state), " ", el("a", { href: runHash(refs[index]) }, data.run.name), " ", el("span", { class: "muted" }, data.run.id)));
  }
  page.append(
    el("h1", {}, `Compare ${runs.length} runs`), heading,
    el("p", { class: "legend" },
      el("label", { class: "field-inline" }, only, "only keys that differ"), " ",
      el("span", { class: "differs" }, "values differ"), " ", el("span", { class: "partial" }, "only in some runs")),
    tables,
    el("section", { class: "run-section", "aria-label": "Charts" }, el("h2", {}, "Charts"), charts()),
  );
  page.dataset.ready = "1";
}
