"""Every resume mode against the local store, across real processes, and the one-writer rule."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import orjson
import pytest

import tracker
from tests.conftest import run_python, wait_for


def kill_after_logging(store, *, steps: int, extra: str = "", env=None) -> str:
    """A child that logs ``steps`` rows and is then SIGKILLed; returns its run id."""
    result = run_python(
        f"""
        import os, signal, tracker
        run = tracker.init(project="p", dir={str(store)!r}, config={{"lr": 0.1}}, tags=["a"], notes="n"{extra})
        for i in range(run.step, run.step + {steps}):
            run.log({{"x": i}})
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        env=env,
        check=False,
    )
    assert result.returncode == -9, result.stderr
    return result.stdout.strip()


def test_auto_resumes_a_crashed_run_in_another_process(store):
    run_id = kill_after_logging(store, steps=5)
    assert tracker.Api(store).run(f"p/{run_id}").state == "crashed"
    run = tracker.init(project="p", dir=store, resume="auto")
    assert run.id == run_id and run.resumed and run.starting_step == 5 and run.step == 5
    assert run.config["lr"] == 0.1 and run.tags == ("a",) and run.notes == "n"
    assert run.summary["x"] == 4
    run.log({"x": 5})
    run.finish()
    view = tracker.Api(store).run(f"p/{run_id}")
    assert [row["_step"] for row in view.history()] == list(range(6))
    assert view.state == "finished"


def test_auto_after_a_clean_finish_starts_a_new_run(store):
    first = tracker.init(project="p", dir=store, resume="auto")
    first.finish()
    second = tracker.init(project="p", dir=store, resume=True)
    assert second.id != first.id and not second.resumed


def test_auto_with_explicit_id_behaves_like_allow(store):
    first = tracker.init(project="p", dir=store, id="abc")
    first.log({"x": 1})
    first.finish()
    again = tracker.init(project="p", dir=store, id="abc", resume="auto")
    assert again.resumed and again.starting_step == 1


def test_allow_resumes_existing_or_starts_new(store):
    new = tracker.init(project="p", dir=store, id="run1", resume="allow")
    assert not new.resumed
    new.log({"x": 1}, step=3, commit=True)
    new.finish()
    resumed = tracker.init(project="p", dir=store, id="run1", resume="allow", config={"lr": 2}, tags=["t2"])
    assert resumed.resumed and resumed.starting_step == 4 and resumed.tags == ("t2",)
    resumed.finish()


def test_must_raises_when_the_run_does_not_exist_and_writes_nothing(store):
    with pytest.raises(tracker.UsageError, match="does not exist"):
        tracker.init(project="p", dir=store, id="ghost", resume="must")
    assert not os.path.exists(store / "tracker-runs" / "projects" / "p" / "ghost")


def test_must_without_an_id_is_an_error(store):
    with pytest.raises(tracker.UsageError, match="needs the id"):
        tracker.init(project="p", dir=store, resume="must")


def test_must_resumes_an_existing_run(store):
    first = tracker.init(project="p", dir=store, id="r")
    first.log({"x": 1})
    first.finish()
    run = tracker.init(project="p", dir=store, id="r", resume="must")
    assert run.resumed and run.step == 1


def test_never_raises_when_the_run_exists(store):
    tracker.init(project="p", dir=store, id="r").finish()
    with pytest.raises(tracker.UsageError, match="already exists"):
        tracker.init(project="p", dir=store, id="r", resume="never")
    fresh = tracker.init(project="p", dir=store, id="other", resume="never")
    assert not fresh.resumed


def test_none_replaces_a_duplicate_id_and_keeps_the_old_data_aside(store, capsys):
    old = tracker.init(project="p", dir=store, id="dup")
    old.log({"x": 1})
    old.finish()
    new = tracker.init(project="p", dir=store, id="dup")
    assert not new.resumed and new.step == 0
    assert "replaced" in capsys.readouterr().err
    trash = store / "tracker-runs" / "trash" / "p"
    kept = list(trash.iterdir())
    assert len(kept) == 1 and b'"x":1' in (kept[0] / "history.jsonl").read_bytes()


def test_resume_merges_config_new_values_win(store):
    first = tracker.init(project="p", dir=store, id="c", config={"a": 1, "b": 2})
    first.finish()
    run = tracker.init(project="p", dir=store, id="c", resume="allow", config={"b": 3, "c": 4})
    assert run.config.as_dict() == {"a": 1, "b": 3, "c": 4}


def test_environment_run_id_and_resume(store, monkeypatch):
    first = tracker.init(project="p", dir=store, id="envrun")
    first.log({"x": 1})
    first.finish()
    monkeypatch.setenv("TRACKER_RUN_ID", "envrun")
    monkeypatch.setenv("TRACKER_RESUME", "must")
    run = tracker.init(project="p", dir=store)
    assert run.id == "envrun" and run.resumed and run.starting_step == 1


def test_resumed_runtime_continues(store):
    first = tracker.init(project="p", dir=store, id="t")
    time.sleep(0.05)
    first.log({"x": 1})
    first.finish()
    run = tracker.init(project="p", dir=store, id="t", resume="allow")
    run.log({"x": 2})
    rows = tracker.Api(store).run("p/t").history()
    assert rows[1]["_runtime"] > rows[0]["_runtime"] >= 0.05


def test_a_live_writer_blocks_a_second_process(store):
    """One live writer per run id: the second process gets 'in use'; once the first dies it may resume."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time, tracker
            run = tracker.init(project="p", dir={str(store)!r}, id="busy")
            run.log({{"x": 1}})
            print("ready", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(tracker.UsageError, match=r"run ID 'busy' is in use by pid \d+"):
            tracker.init(project="p", dir=store, id="busy", resume="allow")
        assert tracker.Api(store).run("p/busy").state == "running"
    finally:
        holder.kill()
        holder.wait()
    assert tracker.Api(store).run("p/busy").state == "crashed"
    run = tracker.init(project="p", dir=store, id="busy", resume="allow")
    assert run.resumed and run.starting_step == 1


def test_resume_continues_across_three_processes(store):
    for _ in range(3):
        run_python(
            f"""
            import tracker
            run = tracker.init(project="p", dir={str(store)!r}, id="multi", resume="allow")
            for _ in range(4):
                run.log({{"x": run.step}})
            """
        )
    view = tracker.Api(store).run("p/multi")
    assert [row["x"] for row in view.history()] == list(range(12))
    assert view.state == "finished"
    assert len(view.metadata["previous_processes"]) == 2


def test_auto_does_not_pick_a_run_that_another_process_is_writing(store):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, tracker
            run = tracker.init(project="p", dir={str(store)!r}, resume="auto")
            print(run.id, flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live_id = holder.stdout.readline().strip()
        mine = tracker.init(project="p", dir=store, resume="auto")
        assert mine.id != live_id and not mine.resumed
    finally:
        holder.kill()
        holder.wait()


def test_resume_after_a_torn_last_line_keeps_every_new_record_readable(store):
    first = tracker.init(project="p", dir=store, id="torn")
    first.log({"x": 0})
    first.finish()
    history = store / "tracker-runs" / "projects" / "p" / "torn" / "history.jsonl"
    with open(history, "ab") as handle:
        handle.write(b'{"_step": 1, "x"')
    run = tracker.init(project="p", dir=store, id="torn", resume="allow")
    run.log({"x": 1})
    run.finish()
    rows = tracker.Api(store).run("p/torn").history()
    assert [row["x"] for row in rows] == [0, 1]
    assert b'"_event":"resume"' in history.read_bytes().split(b"\n")[-4] + history.read_bytes()


# ------------------------------------------------------------------ store-root files: one writer each


def start_racing_runs(store, tmp_path, ids: tuple[str, ...]) -> None:
    """Start one process per id, released together by one file (a barrier); each starts its run and dies."""
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                    import os, signal, time, tracker
                    open({str(tmp_path / f"ready-{run_id}")!r}, "w").close()
                    while not os.path.exists({str(go)!r}):
                        time.sleep(0.001)
                    run = tracker.init(project="p", dir={str(store)!r}, id={run_id!r})
                    run.log({{"x": 1}})
                    os.kill(os.getpid(), signal.SIGKILL)
                """),
            ]
        )
        for run_id in ids
    ]
    wait_for(lambda: all((tmp_path / f"ready-{run_id}").exists() for run_id in ids), "every child ready")
    go.touch()
    assert [child.wait(timeout=120) for child in children] == [-9] * len(ids)


def test_runs_started_at_once_each_keep_their_resume_marker(store, tmp_path):
    ids = ("racer0", "racer1", "racer2")
    start_racing_runs(store, tmp_path, ids)
    markers = store / "tracker-runs" / "resume" / "p"
    assert sorted(path.name for path in markers.iterdir()) == [f"{run_id}.json" for run_id in ids]  # none lost
    records = {run_id: orjson.loads((markers / f"{run_id}.json").read_bytes()) for run_id in ids}
    assert all(record["run_id"] == run_id and record["project"] == "p" for run_id, record in records.items())
    assert not (store / "tracker-runs" / "resume.json").exists()  # no file shared by every process
    host_log = store / "tracker-runs" / ".logs" / f"{socket.gethostname()}.jsonl"
    lines = [orjson.loads(line) for line in host_log.read_bytes().splitlines()]  # every line whole
    assert sorted(line["run_id"] for line in lines if line["event"] == "run.opened") == list(ids)
    newest = max(ids, key=lambda run_id: ((markers / f"{run_id}.json").stat().st_mtime_ns, records[run_id]["at"]))
    run = tracker.init(project="p", dir=store, resume="auto")
    assert run.id == newest and run.resumed
    run.finish()


def test_a_store_with_the_old_single_resume_file_still_resumes(store):
    run_id = kill_after_logging(store, steps=2)
    root = store / "tracker-runs"
    shutil.rmtree(root / "resume")  # as a store written before per-run markers
    (root / "resume.json").write_bytes(orjson.dumps({"run_id": run_id, "project": "p"}))
    run = tracker.init(project="p", dir=store, resume="auto")
    assert run.id == run_id and run.resumed and run.step == 2
    run.finish()
    again = tracker.init(project="p", dir=store, resume="auto")  # its marker is newer than the old file
    assert again.id != run_id and not again.resumed
    again.finish()


def test_an_old_resume_file_of_another_project_does_not_hide_this_projects_marker(store):
    run_id = kill_after_logging(store, steps=1)
    (store / "tracker-runs" / "resume.json").write_bytes(orjson.dumps({"run_id": "other", "project": "q"}))
    run = tracker.init(project="p", dir=store, resume="auto")
    assert run.id == run_id and run.resumed
    run.finish()
