"""Command line: `python -m bench [--quick] [--tools ...] [--workloads ...] [--output FILE]`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from bench.adapters import TOOLS
from bench.catalog import FULL, QUICK, WORKLOADS
from bench.report import build_results, print_table, write_json
from bench.runner import Runner
from bench.stats import Sample

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


def csv_choice(allowed: tuple[str, ...] | list[str]) -> type:
    def parse(text: str) -> list[str]:
        chosen = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in chosen if item not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)} (got {text!r})")
        return [item for item in allowed if item in chosen]  # canonical order

    return parse  # type: ignore[return-value]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 repetition, scaled down; under two minutes")
    parser.add_argument("--tools", type=csv_choice(TOOLS), default=list(TOOLS), help=f"default {','.join(TOOLS)}")
    parser.add_argument(
        "--workloads",
        type=csv_choice(list(WORKLOADS)),
        default=list(WORKLOADS),
        help=f"default {','.join(WORKLOADS)}",
    )
    parser.add_argument("--reps", type=int, help="repetitions per figure (default 3, 1 with --quick)")
    parser.add_argument(
        "--fixture-cap",
        type=float,
        metavar="SECONDS",
        help="stop building a reading fixture after this long and say so (default: none; 3 with --quick)",
    )
    parser.add_argument(
        "--log-cap",
        type=float,
        metavar="SECONDS",
        help="stop a tool's 10,000-step log workload after this long and say so: its log() cost and rate stand, "
        "its init-to-finish covers fewer steps (default: none; 4 with --quick)",
    )
    parser.add_argument(
        "--kill-grace",
        type=float,
        metavar="SECONDS",
        help="durability: time the killed process's helpers (e.g. wandb-core) get before they are killed too "
        "(default 1)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON result (default {DEFAULT_OUTPUT})")
    parser.add_argument("--workdir", type=Path, help="where runs are written (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories and child logs")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.reps:
        scale = dataclasses.replace(scale, reps=args.reps)
    if args.fixture_cap is not None:
        scale = dataclasses.replace(scale, fixture_cap_s=args.fixture_cap)
    if args.log_cap is not None:
        scale = dataclasses.replace(scale, log_cap_s=args.log_cap)
    if args.kill_grace is not None:
        scale = dataclasses.replace(scale, kill_grace_s=args.kill_grace)
    base = args.workdir.resolve() if args.workdir else None
    if base:
        base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-", dir=base))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    runner = Runner(args.tools, scale, workdir, args.keep, say)
    try:
        say(f"probing {', '.join(args.tools)} (runs under {workdir})")
        statuses = runner.probe()
        samples: dict[str, list[Sample]] = {}
        for workload in args.workloads:
            say(f"{WORKLOADS[workload].title}")
            samples[workload] = runner.run(workload)
    finally:
        runner.close()
    results = build_results(statuses, samples, scale, args.quick, argv, time.perf_counter() - started)
    write_json(results, args.output)
    print_table(results)
    say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
