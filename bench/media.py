"""Media benchmark: images in log() and a large artifact, tracker beside wandb offline.

    python -m bench.media [--images 1000] [--artifact-mb 100] [--reps 3] [--output FILE]

Each figure comes from a fresh child process with a fresh root directory, for each tool in turn, and
each repetition pairs the tools back to back. Workloads:

- images: init, then IMAGES times `log({"image": Image(64x64x3 uint8)})` (the Image made inside the
  timed call, as scripts do), then finish: median and mean µs per call, init-to-finish wall time, and
  bytes written under the root.
- artifact: a file of ARTIFACT_MB random bytes (written before timing); the time of Artifact +
  add_file + log_artifact + finish; then, in a second process, use_artifact + download (wandb offline
  cannot download: it has no server, so that cell says so).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

IMPORTS = {
    "tracker": "import tracker as tool\nOPTS = dict(project='bench', dir=ROOT)\n",
    "wandb": "import wandb as tool\nOPTS = dict(project='bench', dir=ROOT, mode='offline')\n",
}

IMAGES = """
import json, os, sys, time
import numpy as np
ROOT, COUNT = sys.argv[1], int(sys.argv[2])
{imports}
pixels = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(COUNT)]
clock = time.perf_counter_ns
started = time.perf_counter()
run = tool.init(**OPTS)
costs = []
for step in range(COUNT):
    begin = clock()
    run.log({{"image": tool.Image(pixels[step])}})
    costs.append(clock() - begin)
run.finish()
elapsed = time.perf_counter() - started
costs.sort()
print(json.dumps({{"median_us": costs[len(costs) // 2] / 1e3, "mean_us": sum(costs) / len(costs) / 1e3,
                   "total_s": elapsed}}))
"""

LOG_ARTIFACT = """
import json, sys, time
ROOT, PAYLOAD = sys.argv[1], sys.argv[2]
{imports}
run = tool.init(**OPTS)
started = time.perf_counter()
artifact = tool.Artifact("payload", type="dataset")
artifact.add_file(PAYLOAD)
run.log_artifact(artifact)
run.finish()
print(json.dumps({{"log_s": time.perf_counter() - started}}))
"""

DOWNLOAD = """
import json, sys, time
ROOT, TARGET = sys.argv[1], sys.argv[2]
{imports}
run = tool.init(**OPTS)
started = time.perf_counter()
run.use_artifact("payload:latest").download(TARGET)
elapsed = time.perf_counter() - started
run.finish()
print(json.dumps({{"download_s": elapsed}}))
"""

WANDB_ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def _child(tool: str, template: str, root: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "TRACKER_SILENT": "true", **WANDB_ENV}
    if tool == "wandb":
        env.update(WANDB_DIR=str(root), WANDB_CACHE_DIR=str(root / ".cache"), WANDB_DATA_DIR=str(root / ".data"))
        env["WANDB_CONFIG_DIR"] = str(root / ".config")
    code = textwrap.dedent(template).format(imports=IMPORTS[tool])
    result = subprocess.run(
        [sys.executable, "-c", code, str(root), *args], env=env, capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise RuntimeError(f"{tool}: the child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _bytes_under(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def images(tool: str, count: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-media-{tool}-"))
    try:
        figures = _child(tool, IMAGES, root, str(count))
        figures["bytes"] = _bytes_under(root)
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def artifact(tool: str, payload: Path) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-artifact-{tool}-"))
    try:
        figures = _child(tool, LOG_ARTIFACT, root, str(payload))
        if tool == "wandb":
            figures["download_s"] = None  # offline: there is no server to download from
        else:
            figures.update(_child(tool, DOWNLOAD, root, str(root / "downloaded")))
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _summary(values: list[float | None]) -> dict[str, float] | None:
    present = [value for value in values if value is not None]
    if not present:
        return None
    return {"median": statistics.median(present), "min": min(present), "max": max(present)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--artifact-mb", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tools", default="tracker,wandb")
    parser.add_argument("--output", type=Path, help="write the JSON result here")
    args = parser.parse_args(argv)
    tools = args.tools.split(",")
    samples: dict[str, dict[str, list[Any]]] = {tool: {} for tool in tools}
    with tempfile.TemporaryDirectory(prefix="bench-payload-") as scratch:
        payload = Path(scratch) / "payload.bin"
        with open(payload, "wb") as handle:
            for _ in range(args.artifact_mb):
                handle.write(os.urandom(1 << 20))
        for _ in range(args.reps):
            for tool in tools:  # back to back, so a slow moment of the machine hits both
                for key, value in {**images(tool, args.images), **artifact(tool, payload)}.items():
                    samples[tool].setdefault(key, []).append(value)
    result = {
        "images": args.images,
        "artifact_mb": args.artifact_mb,
        "reps": args.reps,
        "tools": {
            tool: {key: _summary(values) for key, values in figures.items()} for tool, figures in samples.items()
        },
    }
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
