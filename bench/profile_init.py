"""Where a fresh process's first ``init()`` and ``finish()`` spend their time: py-spy over many processes.

    python -m bench.profile_init [--runs 40] [--rate 2000] [--py-spy PATH] [--top 30]

One run of an empty ``init()``..``finish()`` takes a few milliseconds, too short for a sampling profiler
to say much; so each of ``--runs`` fresh processes is sampled, the raw stacks are pooled, and the
report gives, for every tracker function, the share of the main thread's samples inside
``init()``..``finish()`` that had it on the stack (inclusive), then the leaf frames (exclusive), then
the samples taken on tracker's other threads. py-spy is an optional tool of the benchmark (see
bench/requirements.txt); with ``--py-spy`` any binary can be named.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# What is profiled: one empty run in a fresh process, the code under test marked by its function name.
CHILD = textwrap.dedent("""
    import os, sys, tempfile
    os.environ["TRACKER_SILENT"] = "true"
    import tracker

    def profiled_run(store):
        run = tracker.init(project="profile", dir=store, mode="offline", config={"lr": 0.1})
        run.finish()

    profiled_run(tempfile.mkdtemp())
""")
MARK = "profiled_run"


def frame_name(frame: str) -> str:
    """``init (tracker/_init.py:147)`` -> ``init tracker/_init.py``: a function, without its line."""
    name, _, where = frame.partition(" (")
    return f"{name} {where.rsplit(':', 1)[0]}"


def summarize(lines: Iterable[str]) -> tuple[int, collections.Counter[str], collections.Counter[str], int]:
    """(main-thread samples in the profiled run, inclusive counts per tracker function, leaf counts,
    samples of tracker's other threads) from py-spy's raw format (``frame;frame;... count``)."""
    total = others = 0
    inclusive: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if "MainThread" not in frames[0]:
            others += count if any("tracker/" in frame for frame in frames) else 0
            continue
        if not any(MARK in frame for frame in frames):
            continue
        total += count
        for name in {frame_name(frame) for frame in frames if "tracker/" in frame}:
            inclusive[name] += count
        leaves[frame_name(frames[-1])] += count
    return total, inclusive, leaves, others


def profile(runs: int, rate: int, py_spy: str) -> list[str]:
    """The pooled raw stacks of ``runs`` fresh processes."""
    lines: list[str] = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # run from cached bytecode
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "child.py"
        script.write_text(CHILD)
        subprocess.run([sys.executable, str(script)], env=env, check=True)  # writes the bytecode caches
        for index in range(runs):
            output = Path(scratch) / f"raw-{index}.txt"
            command = [py_spy, "record", "--rate", str(rate), "--format", "raw", "--threads", "--output", str(output)]
            done = subprocess.run([*command, "--", sys.executable, str(script)], env=env, capture_output=True)
            if done.returncode != 0 or not output.exists():  # py-spy lost the process (it can end first)
                print(f"run {index}: py-spy failed: {done.stderr.decode(errors='replace').strip()[-200:]}")
                continue
            lines.extend(output.read_text().splitlines())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="fresh processes to sample (default 40)")
    parser.add_argument("--rate", type=int, default=2000, help="samples per second (default 2000)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="the py-spy binary (default: on PATH)")
    parser.add_argument("--top", type=int, default=30, help="rows per table (default 30)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rate < 1 or args.top < 1:
        parser.error("--runs, --rate and --top must be positive")
    if not args.py_spy:
        parser.error("py-spy is not on PATH: pip install py-spy, or name it with --py-spy")
    total, inclusive, leaves, others = summarize(profile(args.runs, args.rate, args.py_spy))
    if total == 0:
        print("no sample fell inside init()..finish(): raise --runs or --rate")
        return 1
    print(
        f"{total} main-thread samples inside init()..finish() over {args.runs} processes; "
        f"{others} samples on tracker's other threads"
    )
    for title, counter in (("inclusive (on the stack)", inclusive), ("leaf frames (exclusive)", leaves)):
        print(f"\n{title}")
        for name, count in counter.most_common(args.top):
            print(f"{100 * count / total:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
