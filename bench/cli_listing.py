"""`tracker runs` over a store of many finished runs: wall time of the real console script.

    python -m bench.cli_listing --runs 10000 --reps 5

Reports the median [min, max] of a cold listing (the run index cache deleted first), a warm one
(cache valid) and a full JSON dump (--limit 0), each a fresh process as a user would run it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_store(directory: Path, count: int) -> None:
    """``count`` finished runs of 20 steps, made through the public API (git metadata off)."""
    import tracker

    settings = {"disable_git": True, "silent": True}
    for index in range(count):
        run = tracker.init(
            project="listing", dir=directory, config={"index": index}, settings=settings, reinit="finish_previous"
        )
        for step in range(20):
            run.log({"loss": 1 / (step + 1), "index": index})
        run.finish()


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms [{min(samples) * 1000:.0f}, {max(samples) * 1000:.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="reuse (or create) the store here instead of a temp dir")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="tracker-listing-"))
    root = directory / "tracker-runs"
    existing = len(os.listdir(root / "projects" / "listing")) if (root / "projects" / "listing").is_dir() else 0
    if existing < args.runs:
        started = time.perf_counter()
        build_store(directory, args.runs - existing)
        print(f"built {args.runs - existing} runs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    script = str(Path(sys.executable).with_name("tracker"))
    base = [script, "--dir", str(directory), "runs", "--project", "listing", "--metric", "loss"]
    cold, warm, full = [], [], []
    for _ in range(args.reps):
        shutil.rmtree(root / "cache", ignore_errors=True)
        cold.append(timed(base))
        warm.append(timed(base))
        full.append(timed([*base, "--limit", "0", "--json"]))
    passes = [timed([sys.executable, "-c", "pass"]) for _ in range(args.reps)]
    print(f"tracker runs over {args.runs} finished runs ({args.reps} reps, median [min, max])")
    print(f"  python -c pass                 {summary(passes)}")
    print(f"  cold (index cache rebuilt)     {summary(cold)}")
    print(f"  warm (index cache valid)       {summary(warm)}")
    print(f"  warm, --limit 0 --json         {summary(full)}")
    if args.dir is None:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
