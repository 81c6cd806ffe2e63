"""Child-process side of every workload: `python -m bench.workloads '<json spec>'` writes a JSON result."""

# Each script runs in a fresh process so imports are cold-ish and tools cannot share state. The spec
# names the script, the tool, the root directory to write under and the result file; the result is a
# flat dict of numbers (plus a few strings) that the parent turns into samples.

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.adapters import get_adapter
from bench.adapters.base import Adapter

PROJECT = "bench"
Spec = dict[str, Any]
Result = dict[str, Any]


def metric_keys(count: int) -> list[str]:
    return [f"m{i}" for i in range(count)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def helper_peak_rss_mb() -> float:
    """Sum of the peak RSS (VmHWM) of this process's live descendants, e.g. wandb's Go core."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - mine
        mine |= frontier
    total_kb = 0
    for pid in mine:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def _deadline(cap_s: float | None) -> float:
    return time.monotonic() + cap_s if cap_s else float("inf")


def probe(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    return {"version": adapter.version()}


def bare(adapter: Adapter, root: Path, spec: Spec) -> Result:
    """Nothing: the harness alone (interpreter, site, this module), the floor under every whole-process figure."""
    return {}


def init_finish(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    t0 = time.perf_counter()
    run = adapter.init(root, PROJECT, {"workload": "init"})
    t1 = time.perf_counter()
    adapter.finish(run)
    t2 = time.perf_counter()
    return {"init_s": t1 - t0, "init_finish_s": t2 - t0}


def log_steps(adapter: Adapter, root: Path, spec: Spec) -> Result:
    """init, `steps` log() calls of `keys` scalars each timed on the caller's thread, finish."""
    adapter.prepare(root)
    keys = metric_keys(spec["keys"])
    steps: int = spec["steps"]
    durations = [0] * steps
    clock = time.perf_counter_ns
    t0 = time.perf_counter()
    run = adapter.init(root, PROJECT, {"workload": "log", "lr": 0.001, "batch": 32})
    deadline = _deadline(spec.get("cap_s"))  # the cap counts logging only: a slow init() must not leave 0 steps
    done = 0
    for step in range(steps):
        if step % 256 == 0 and time.monotonic() > deadline:
            break
        metrics = dict.fromkeys(keys, step * 0.001)
        c0 = clock()
        adapter.log(run, metrics, step)
        durations[step] = clock() - c0
        done += 1
    adapter.finish(run)
    e2e = time.perf_counter() - t0
    return {
        "steps": done,
        "log_us": statistics.median(durations[:done]) / 1000 if done else None,
        "log_mean_us": statistics.fmean(durations[:done]) / 1000 if done else None,
        "e2e_s": e2e,
        "metrics_per_s": done * len(keys) / e2e,
        "peak_rss_mb": peak_rss_mb(),
        "helper_rss_mb": helper_peak_rss_mb(),
        "run_id": adapter.run_id(run),
    }


def durability(adapter: Adapter, root: Path, spec: Spec) -> Result:
    """Log one step per call; report the run id, then a marker once the last log() has returned.

    The parent SIGKILLs this process as soon as it reads the marker, so nothing after it runs.
    """
    adapter.prepare(root)
    fd: int = spec["marker_fd"]
    keys = metric_keys(spec["keys"])
    run = adapter.init(root, PROJECT, {"workload": "durability"})
    os.write(fd, f"id {adapter.run_id(run)}\n".encode())
    for step in range(spec["steps"]):
        adapter.log(run, dict.fromkeys(keys, float(step)), step)
    os.write(fd, b"done\n")
    time.sleep(60)  # never reached in a working benchmark: the parent kills us first
    return {}


def readback(adapter: Adapter, root: Path, spec: Spec) -> Result:
    """How many distinct steps of run `run_id` carry metric m0, read through the tool's own reader."""
    adapter.prepare(root)
    rows = adapter.read_history(root, PROJECT, spec["run_id"])
    return {"survived": len({row["_step"] for row in rows if "m0" in row})}


def history_fixture(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    run_id, steps = adapter.write_history_fixture(
        root, PROJECT, spec["steps"], metric_keys(spec["keys"]), _deadline(spec.get("cap_s"))
    )
    return {"run_id": run_id, "steps": steps}


def read_history(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    t0 = time.perf_counter()
    rows = adapter.read_history(root, PROJECT, spec["run_id"])
    return {"history_s": time.perf_counter() - t0, "history_rows": len(rows)}


def runs_fixture(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    made = adapter.create_runs_fixture(root, PROJECT, spec["count"], _deadline(spec.get("cap_s")))
    return {"count": made}


def list_runs(adapter: Adapter, root: Path, spec: Spec) -> Result:
    adapter.prepare(root)
    t0 = time.perf_counter()
    ids = adapter.list_runs(root, PROJECT)
    return {"list_s": time.perf_counter() - t0, "listed_runs": len(ids)}


def media(adapter: Adapter, root: Path, spec: Spec) -> Result:
    """One run logging ``images`` 64x64 images (with a scalar), then one run logging a file of
    ``artifact_mb`` MB as an artifact, then downloading it where the tool can."""
    import numpy as np

    adapter.prepare(root)
    count: int = spec["images"]
    arrays = np.random.default_rng(0).integers(0, 256, (count, 64, 64, 3), dtype=np.uint8)
    durations = [0] * count
    clock = time.perf_counter_ns
    t0 = time.perf_counter()
    run = adapter.init(root, PROJECT, {"workload": "media"})
    for step in range(count):
        c0 = clock()
        adapter.log(run, {"image": adapter.image(arrays[step]), "x": float(step)}, step)
        durations[step] = clock() - c0
    adapter.finish(run)
    result: Result = {
        "image_log_us": statistics.median(durations) / 1000,
        "image_e2e_s": time.perf_counter() - t0,
        "images": count,
    }
    payload = root.parent / "payload" / "data.bin"
    payload.parent.mkdir(parents=True, exist_ok=True)
    with open(payload, "wb") as handle:
        for _ in range(spec["artifact_mb"]):
            handle.write(os.urandom(1 << 20))
    run = adapter.init(root, PROJECT, {"workload": "artifact"})
    t0 = time.perf_counter()
    adapter.log_artifact(run, payload, "payload")
    result["artifact_log_s"] = time.perf_counter() - t0
    adapter.finish(run)
    result["artifact_finish_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        adapter.download_artifact(root, PROJECT, "payload", root.parent / "downloaded")
        result["artifact_download_s"] = time.perf_counter() - t0
    except NotImplementedError as error:
        result["artifact_download_note"] = str(error)
    return result


SCRIPTS: dict[str, Callable[[Adapter, Path, Spec], Result]] = {
    f.__name__: f
    for f in (
        probe,
        bare,
        init_finish,
        log_steps,
        durability,
        readback,
        history_fixture,
        read_history,
        runs_fixture,
        list_runs,
        media,
    )
}


def main(argv: list[str]) -> int:
    spec: Spec = json.loads(argv[1])
    root = Path(spec["root"])
    result = SCRIPTS[spec["script"]](get_adapter(spec["tool"]), root, spec)
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
