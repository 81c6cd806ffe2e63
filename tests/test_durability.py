"""Nothing whose log() returned is lost: SIGKILL mid-run, torn records, corrupt lines, many writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import tracker

CHILD = """
import sys, tracker
run = tracker.init(project="p", dir={store!r}, id="victim")
print("id", run.id, flush=True)
step = 0
while True:
    run.log({{"x": step, "y": step * 0.5, "z": "s%d" % step}})
    sys.stdout.write("%d\\n" % step)
    sys.stdout.flush()
    step += 1
"""


def test_every_returned_log_survives_sigkill(store):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(store=str(store))], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert child.stdout.readline().startswith("id victim")
    acknowledged = []
    while len(acknowledged) < 1500:
        acknowledged.append(int(child.stdout.readline()))
    os.kill(child.pid, signal.SIGKILL)
    acknowledged += [int(line) for line in child.stdout.read().split()]
    child.wait()
    view = tracker.Api(store).run("p/victim")
    steps = [row["_step"] for row in view.history()]
    assert steps == list(range(len(steps))), "no gap and no duplicate"
    assert set(acknowledged) <= set(steps), "a step whose log() returned is missing"
    assert len(steps) - len(acknowledged) <= 1
    assert view.state == "crashed" and view.exit_code is None
    assert view.summary["x"] == steps[-1]


def test_a_torn_last_record_and_a_corrupt_line_are_skipped(store):
    run = tracker.init(project="p", dir=store, id="torn")
    for i in range(3):
        run.log({"x": i})
    history_path = store / "tracker-runs" / "projects" / "p" / "torn" / "history.jsonl"
    with open(history_path, "ab") as handle:
        handle.write(b'{"_step": 99, "_runtime": 1.0, "x": 12')  # torn: no newline
    view = tracker.Api(store).run("p/torn")
    assert [row["x"] for row in view.history()] == [0, 1, 2]
    lines = history_path.read_bytes().split(b"\n")
    lines[1] = b"\x00garbage"
    history_path.write_bytes(b"\n".join(lines[:3]) + b"\n")
    assert [row["x"] for row in tracker.Api(store).run("p/torn").history()] == [0, 2]


def test_a_live_run_is_readable_while_it_is_written(store):
    run = tracker.init(project="p", dir=store)
    run.log({"x": 1})
    view = tracker.Api(store).run(f"p/{run.id}")
    assert view.state == "running" and view.summary["x"] == 1 and len(view.history()) == 1


def test_many_processes_write_into_one_root_at_once(store):
    code = textwrap.dedent(f"""
        import sys, tracker
        run = tracker.init(project="p", dir={str(store)!r}, group="g", name=sys.argv[1])
        for i in range(300):
            run.log({{"x": i}})
        run.summary["who"] = sys.argv[1]
    """)
    children = [subprocess.Popen([sys.executable, "-c", code, f"job{n}"]) for n in range(8)]
    assert [child.wait(timeout=120) for child in children] == [0] * 8
    runs = tracker.Api(store).runs("p", group="g")
    assert sorted(run.name for run in runs) == [f"job{n}" for n in range(8)]
    for view in runs:
        assert view.state == "finished" and view.summary["who"] == view.name
        assert [row["x"] for row in view.history()] == list(range(300))
