"""tracker.Api: listing and filtering runs, run paths, history keys, metadata, logs and files."""

from __future__ import annotations

import logging
import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import tracker
from tests.conftest import run_python


@pytest.fixture
def three_runs(store):
    specs = [("a", "g1", ["x"], "train", 0), ("b", "g1", ["x", "y"], "eval", 1), ("c", "g2", [], "train", 0)]
    for name, group, tags, job_type, code in specs:
        run = tracker.init(project="p", dir=store, name=name, group=group, tags=tags, job_type=job_type, reinit=True)
        run.log({"loss": 1.0})
        run.finish(exit_code=code)
    return tracker.Api(store)


def test_runs_filters(three_runs):
    names = lambda runs: [run.name for run in runs]  # noqa: E731
    assert names(three_runs.runs("p")) == ["a", "b", "c"]
    assert names(three_runs.runs("p", group="g1")) == ["a", "b"]
    assert names(three_runs.runs("p", tags="x")) == ["a", "b"]
    assert names(three_runs.runs("p", tags=["x", "y"])) == ["b"]
    assert names(three_runs.runs("p", state="failed")) == ["b"]
    assert names(three_runs.runs("p", job_type="train")) == ["a", "c"]
    assert three_runs.runs("missing") == []
    assert three_runs.projects() == ["p"]


def test_run_view_fields(three_runs):
    view = three_runs.runs("p", group="g2")[0]
    assert (view.name, view.group, view.job_type, view.tags, view.state, view.exit_code) == (
        "c",
        "g2",
        "train",
        (),
        "finished",
        0,
    )
    assert view.created_at.endswith("Z") and view.updated_at >= view.created_at
    again = three_runs.run(f"p/{view.id}")
    assert again.id == view.id and three_runs.run(f"someone/p/{view.id}").id == view.id


def test_run_path_errors(store):
    api = tracker.Api(store)
    with pytest.raises(tracker.UsageError, match="project/run_id"):
        api.run("just-an-id")
    with pytest.raises(tracker.Error, match="no run p/nope"):
        api.run("p/nope")
    with pytest.raises(tracker.UsageError, match="state"):
        api.runs("p", state="done")


def test_history_keys(store):
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1, "b": 2})
    run.log({"a": 3})
    rows = tracker.Api(store).run(f"p/{run.id}").history(keys=["a", "b"])
    assert len(rows) == 1 and set(rows[0]) == {"_step", "_runtime", "_timestamp", "a", "b"}
    assert [row["a"] for row in tracker.Api(store).run(f"p/{run.id}").history(keys="a")] == [1, 3]


def test_api_default_dir_follows_tracker_dir(store, monkeypatch):
    monkeypatch.setenv("TRACKER_DIR", str(store))
    run = tracker.init(project="p")
    run.finish()
    assert tracker.Api().run(f"p/{run.id}").state == "finished"
    assert str(store) in run.dir


def test_metadata_records_process_program_git_and_slurm(tmp_path, store):
    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "job.py"
    # the dirty flag comes from a background `git status`; the job waits for it (finish() does not)
    script.write_text(
        "import json, os, sys, time, tracker\n"
        f"run = tracker.init(project='p', dir={str(store)!r}, save_code=True)\n"
        "path = os.path.join(os.path.dirname(run.dir), 'metadata.json')\n"
        "deadline = time.monotonic() + 120\n"
        "while json.load(open(path))['git']['dirty'] is None and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(run.id)\n"
    )
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "job.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "job.py").write_text(script.read_text() + "# edited\n")
    without_login = {k: v for k, v in os.environ.items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    result = subprocess.run(
        [sys.executable, str(script), "--flag"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        # no login variable: the name comes from the password database, after init() (with git's state)
        env={**without_login, "SLURM_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": "3"},
    )
    view = tracker.Api(store).run(f"p/{result.stdout.strip()}")
    meta = view.metadata
    assert meta["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert meta["argv"] == [str(script), "--flag"] and meta["program"] == str(script)
    assert meta["host"] and meta["pid"] > 0 and meta["python"].count(".") == 2 and meta["started_at"].endswith("Z")
    assert meta["slurm"] == {"SLURM_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": "3"}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert meta["git"]["commit"] == head and meta["git"]["dirty"] is True and meta["git"]["branch"]
    assert (view.directory + "/files/code/job.py") and os.path.isfile(os.path.join(view.files_dir, "code", "job.py"))


def test_debug_logs_are_json_lines_and_the_root_logger_is_untouched(store):
    root_handlers = list(logging.getLogger().handlers)
    run = tracker.init(project="p", dir=store)
    run_id = run.id
    run.finish()
    lines = (store / "tracker-runs" / "projects" / "p" / run_id / "logs" / "debug.log").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    assert [event["event"] for event in events] == ["settings.resolved", "identity.decided", "run.init", "run.finished"]
    assert all(event["run_id"] == run_id and event["level"] == "info" and "timestamp" in event for event in events)
    global_log = (store / "tracker-runs" / ".logs" / f"{socket.gethostname()}.jsonl").read_bytes().splitlines()
    assert any(orjson.loads(line).get("run_id") == run_id for line in global_log)
    assert logging.getLogger().handlers == root_handlers


def test_console_header_and_silence(store):
    loud = run_python(
        f"import tracker\nrun = tracker.init(project='p', dir={str(store)!r}, name='hello')\n",
        env={"TRACKER_SILENT": "false"},
    )
    assert "run hello (" in loud.stderr and "-> " in loud.stderr
    quiet = run_python(f"import tracker\nrun = tracker.init(project='p', dir={str(store)!r})\n")
    assert quiet.stderr == ""


def test_save_policies(store, tmp_path):
    data = tmp_path / "out"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("1")
    (data / "sub" / "b.txt").write_text("2")
    run = tracker.init(project="p", dir=store)
    now = run.save(str(data / "**" / "*.txt"), base_path=str(data), policy="now")
    assert sorted(os.path.relpath(path, run.dir) for path in now) == ["a.txt", os.path.join("sub", "b.txt")]
    assert run.save(str(data / "late.log"), policy="end") == []
    (data / "late.log").write_text("late")
    (data / "a.txt").write_text("changed")
    run.save(str(data / "a.txt"), policy="live")
    run.finish()
    files = Path(run.dir)
    assert (files / "late.log").read_text() == "late" and (files / "a.txt").read_text() == "changed"
    with pytest.raises(tracker.UsageError, match="policy"):
        tracker.init(project="p", dir=store, reinit=True).save("*.txt", policy="sometimes")


@pytest.mark.parametrize("layout", ["loose", "packed", "detached", "worktree"])
def test_git_commit_and_branch_are_read_from_files_at_init(tmp_path, store, layout):
    """init() reads the commit and branch without running git, in every repository layout git makes."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "job.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "job.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    where, branch = repo, "main"
    if layout == "packed":
        subprocess.run([*git, "pack-refs", "--all"], check=True)
    elif layout == "detached":
        subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
        branch = "HEAD"
    elif layout == "worktree":
        where, branch = tmp_path / "linked", "side"
        subprocess.run([*git, "worktree", "add", "-q", "-b", "side", str(where)], check=True)
    from tracker._metadata import git_head

    found = git_head(str(where / "job.py"))
    assert found == {"root": str(where), "commit": head, "branch": branch}
    assert git_head(str(tmp_path / "elsewhere" / "job.py")) is None


def test_the_package_docstring_example_runs_and_proxies_answer_probes():
    import doctest

    assert not hasattr(tracker.config, "__wrapped__")  # a probe without a run is a plain AttributeError
    with pytest.raises(AttributeError, match="no active run"):
        _ = tracker.summary.anything
    results = doctest.testmod(tracker, verbose=False)
    assert results.attempted >= 3 and results.failed == 0
