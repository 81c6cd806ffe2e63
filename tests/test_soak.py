"""Soak: many writers, readers, SIGKILLs, SIGTERMs, races and resumes in one root, then every returned log() checked.

Each run id is driven by its own thread that starts writer processes one after another (sometimes two at
once, to race for the lock) and stops each at a random moment. A writer prints each step right after its
log() returned; whatever happens, every printed step must be in the history exactly once, steps must
strictly increase, and the run must read what happened to it. Readers list and read the store all along
and must never fail. The time spent is bounded (TRACKER_SOAK_SECONDS); nothing is asserted about speed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import orjson
import pytest

import tracker

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("TRACKER_SOAK_SECONDS", "40"))
RUN_IDS = [f"soak{index}" for index in range(6)]

WRITER = textwrap.dedent("""
    import sys, tracker
    store, run_id, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        run = tracker.init(project="p", dir=store, id=run_id, resume="allow", config={"id": run_id})
    except tracker.UsageError as error:
        print("refused", error, flush=True)
        sys.exit(3)
    print("start", run.step, flush=True)
    for _ in range(steps):
        step = run.step
        run.log({"v": step, "text": "x" * (step % 300)})
        print(step, flush=True)
    run.finish()
    print("done", flush=True)
""")

READER = textwrap.dedent("""
    import os, sys, tracker
    store, stop = sys.argv[1], sys.argv[2]
    reads = 0
    while not os.path.exists(stop):
        for view in tracker.Api(store).runs("p"):
            assert view.state in ("running", "finished", "failed", "crashed", "preempted"), view.state
            steps = [row["_step"] for row in view.history()]
            assert steps == sorted(set(steps)), steps
            view.summary
            reads += 1
    print(reads, flush=True)
""")


class Driver:
    """Drives one run id: writer after writer, each stopped by SIGKILL, SIGTERM or a clean finish."""

    def __init__(self, store: Path, run_id: str, deadline: float, seed: int) -> None:
        self.store, self.run_id, self.deadline = store, run_id, deadline
        self.random = random.Random(seed)
        self.acknowledged: list[int] = []
        self.counts = {"processes": 0, "sigkill": 0, "sigterm": 0, "finished": 0, "refused": 0, "races": 0}
        self.problems: list[str] = []

    def writer(self, steps: int = 10**7) -> subprocess.Popen[str]:
        self.counts["processes"] += 1
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, str(self.store), self.run_id, str(steps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def collect(self, process: subprocess.Popen[str], stop_after: int | None, how: int | None) -> str:
        """Read a writer's acknowledgements; after ``stop_after`` of them (None: at once) send ``how``."""
        assert process.stdout is not None
        started = False
        if stop_after is None and how is not None:
            process.send_signal(how)  # during interpreter start-up or init()
        seen = 0
        for line in process.stdout:
            word = line.split()[0]
            if word == "start":
                started = True
            elif word == "refused":
                self.counts["refused"] += 1
            elif word != "done":
                self.acknowledged.append(int(word))
                seen += 1
                if how is not None and stop_after is not None and seen == stop_after:
                    process.send_signal(how)
        process.wait()
        return "started" if started else "not started"

    def expected_state_after(self, how: int | None) -> str | None:
        return {signal.SIGKILL: "crashed", signal.SIGTERM: "preempted", None: "finished"}[how]

    def cycle(self) -> None:
        choice = self.random.random()
        if choice < 0.1:  # two processes race for the run: exactly one may write it
            self.counts["races"] += 1
            first, second = self.writer(), self.writer()
            threading.Thread(target=self.collect, args=(second, 50, signal.SIGKILL), daemon=True).start()
            self.collect(first, self.random.randint(2000, 5000), signal.SIGKILL)  # outlives the other's patience
            second.wait()
            self.counts["sigkill"] += 1
            return
        how = signal.SIGKILL if choice < 0.6 else signal.SIGTERM if choice < 0.9 else None
        stop_after = None if self.random.random() < 0.1 else self.random.randint(1, 400)
        process = self.writer(steps=self.random.randint(1, 200) if how is None else 10**7)
        started = self.collect(process, stop_after, how)
        if how is None:
            self.counts["finished"] += 1
        else:
            self.counts["sigkill" if how == signal.SIGKILL else "sigterm"] += 1
        if started == "started" and stop_after is not None:
            state = tracker.Api(self.store).run(f"p/{self.run_id}").state
            if state != self.expected_state_after(how):
                self.problems.append(f"{self.run_id}: after {how!r} the run reads {state}")

    def drive(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.cycle()
            final = self.writer(steps=5)
            self.collect(final, None, None)
        except Exception as error:  # reported by the test, not lost in a thread
            self.problems.append(f"{self.run_id}: {type(error).__name__}: {error}")


def raw_steps(store: Path, run_id: str) -> list[int]:
    """Every row record's step in the journal, in file order (a duplicate would show twice here)."""
    history = store / "tracker-runs" / "projects" / "p" / run_id / "history.jsonl"
    steps = []
    for line in history.read_bytes().split(b"\n"):
        if line:
            record = orjson.loads(line)
            if "_step" in record:
                steps.append(record["_step"])
    return steps


def test_soak_every_returned_log_is_read_back_exactly_once(store, tmp_path):
    stop = tmp_path / "stop-readers"
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(store), str(stop)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    deadline = time.monotonic() + SOAK_SECONDS
    drivers = [Driver(store, run_id, deadline, seed) for seed, run_id in enumerate(RUN_IDS)]
    threads = [threading.Thread(target=driver.drive) for driver in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.touch()
    reads = []
    for reader in readers:
        output, _ = reader.communicate(timeout=300)
        assert reader.returncode == 0, "a reader failed while the store was being written"
        reads.append(int(output))
    problems = [problem for driver in drivers for problem in driver.problems]
    assert problems == []
    rows = 0
    for driver in drivers:
        steps = raw_steps(store, driver.run_id)
        assert steps == list(range(len(steps))), f"{driver.run_id}: a gap or a duplicate in the journal"
        assert set(driver.acknowledged) <= set(steps), f"{driver.run_id}: a step whose log() returned is missing"
        view = tracker.Api(store).run(f"p/{driver.run_id}")
        assert view.state == "finished" and view.summary["v"] == steps[-1]
        rows += len(steps)
    totals = {key: sum(driver.counts[key] for driver in drivers) for key in drivers[0].counts}
    acknowledged = sum(len(driver.acknowledged) for driver in drivers)
    print(f"\nsoak: {totals}, {acknowledged} acknowledged log() calls, {rows} rows checked, reads {reads}")
