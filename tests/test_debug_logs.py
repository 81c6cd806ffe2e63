"""Debug events read back: every decision and warning of a run, the launcher's, secrets kept out, `tracker logs`."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

import tracker
from tests.conftest import TRACKER, pid_of_logging_job, run_python, wait_for, wait_for_file
from tests.train_app import PROJECT
from tracker import _logs

PROJECT_DIR = ("tracker-runs", "projects", "p")


def events_of(store: Path, run_id: str, project: str = "p") -> list[dict]:
    path = store / "tracker-runs" / "projects" / project / run_id / "logs" / "debug.log"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def host_events(store: Path) -> list[dict]:
    path = store / "tracker-runs" / ".logs" / f"{socket.gethostname()}.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def named(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event["event"] == name]


def test_identity_is_explained_for_each_way_a_run_is_opened(store, monkeypatch):
    monkeypatch.setenv("TRACKER_RUN_GROUP", "from-env")
    tracker.init(project="p", dir=store, id="r1").finish()
    tracker.init(project="p", dir=store, id="r1", resume="allow").finish()
    tracker.init(project="p", dir=store, id="r1").finish()  # resume off: replaced
    fresh = tracker.init(project="p", dir=store)
    fresh.finish()
    decided = named(events_of(store, "r1"), "identity.decided")
    assert [event["action"] for event in decided] == ["replaced"]  # the replaced run's log went to the trash
    assert "resume=None and the run existed" in decided[0]["reason"] and decided[0]["replaced_to"]
    assert decided[0]["id_source"] == "argument"
    trashed = next((store / "tracker-runs" / "trash").rglob("debug.log"))
    kept = [orjson.loads(line) for line in trashed.read_bytes().splitlines()]
    assert [(event["action"], event["reason"]) for event in named(kept, "identity.decided")] == [
        ("new", "no run with this id is stored"),
        ("resumed", "resume='allow' and the run is stored"),
    ]
    (new,) = named(events_of(store, fresh.id), "identity.decided")
    assert new["action"] == "new" and new["reason"] == "no run id given: a new id" and new["id_source"] is None
    resolved = named(events_of(store, fresh.id), "settings.resolved")[0]
    assert resolved["sources"]["run_group"] == "environment" and resolved["values"]["run_group"] == "from-env"
    assert resolved["sources"]["project"] == "argument" and "mode" not in resolved["sources"]
    shown = [event["message"] for event in named(events_of(store, "r1"), "warning.shown")]
    assert len(shown) == 1 and "already existed and resume is off: it was replaced" in shown[0]
    opened = named(host_events(store), "run.opened")
    assert [event["run_id"] for event in opened] == ["r1", "r1", "r1", fresh.id]
    assert all(event["pid"] == os.getpid() and event["dir"].endswith(event["run_id"]) for event in opened)


def test_resume_auto_says_which_run_it_continued(store):
    run_python(
        f"import tracker; tracker.init(project='p', dir={str(store)!r}, id='crashed'); import os; os._exit(3)",
        check=False,
    )
    run = tracker.init(project="p", dir=store, resume="auto")
    run.finish()
    assert run.id == "crashed"
    decided = named(events_of(store, "crashed"), "identity.decided")
    assert decided[-1]["action"] == "resumed" and "resume='auto'" in decided[-1]["reason"]


def test_a_refused_lock_names_its_holder_in_the_host_log(store, tmp_path):
    go = tmp_path / "go"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import os, time, tracker
                tracker.init(project="p", dir={str(store)!r}, id="held")
                open({str(tmp_path / "ready")!r}, "w").close()
                while not os.path.exists({str(go)!r}):
                    time.sleep(0.01)
            """),
        ]
    )
    try:
        wait_for_file(tmp_path / "ready")
        with pytest.raises(tracker.UsageError, match="in use by"):
            tracker.init(project="p", dir=store, id="held", resume="allow")
    finally:
        go.touch()
        holder.wait(timeout=60)
    (refused,) = named(host_events(store), "lock.refused")
    assert refused["run_id"] == "held" and refused["level"] == "error"
    assert refused["holder_pid"] == holder.pid and refused["holder_host"] == socket.gethostname()
    assert [event["event"] for event in events_of(store, "held")].count("run.init") == 1  # nothing in its log


def test_a_preemption_signal_is_logged_with_what_was_done(store):
    result = run_python(
        f"""
        import os, signal, tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="pre")
        run.log({{"x": 1}})
        os.kill(os.getpid(), signal.SIGTERM)
        """,
        check=False,
    )
    assert result.returncode == -signal.SIGTERM
    events = events_of(store, "pre")
    (received,) = named(events, "signal.received")
    assert received["signal"] == "SIGTERM" and received["level"] == "warning"
    assert received["action"] == "runs marked preempting and finished; the process dies of the signal"
    (code,) = named(events, "exit.code")
    assert code["exit_code"] == 128 + signal.SIGTERM and code["source"] == "signal SIGTERM"
    names = [event["event"] for event in events]
    assert names.index("signal.received") < names.index("run.preempting") < names.index("run.finished")
    assert named(events, "run.finished")[0]["state"] == "preempted"


def test_exit_code_and_how_it_was_learnt(store):
    run_python(f"import sys, tracker; tracker.init(project='p', dir={str(store)!r}, id='ex'); sys.exit(4)", check=False)
    (code,) = named(events_of(store, "ex"), "exit.code")
    assert (code["exit_code"], code["source"]) == (4, "sys.exit()")
    run_python(f"import tracker; tracker.init(project='p', dir={str(store)!r}, id='boom'); 1/0", check=False)
    events = events_of(store, "boom")
    assert named(events, "run.uncaught_exception")[0]["exception"] == "ZeroDivisionError: division by zero"
    assert named(events, "exit.code")[0]["source"] == "uncaught exception"


def test_dropped_steps_rules_and_saved_files_are_events(store, tmp_path):
    (tmp_path / "work" / "model.txt").write_text("weights")
    run = tracker.init(project="p", dir=store, id="d")
    run.define_metric("loss", summary="min", goal="minimize")
    run.save("model.txt", policy="now")
    run.log({"loss": 1.0}, step=5)
    run.log({"loss": 0.5}, step=3)
    run.finish()
    events = events_of(store, "d")
    (dropped,) = named(events, "step.dropped")
    assert (dropped["step"], dropped["current"], dropped["level"]) == (3, 5, "warning")
    assert "log(step=3) was not stored" in named(events, "warning.shown")[0]["message"]
    (rule,) = named(events, "summary.rule")
    assert (rule["name"], rule["summary"], rule["goal"]) == ("loss", ["min"], "minimize")
    (saved,) = named(events, "files.saved")
    assert saved["policy"] == "now" and saved["copied"] == 1
    assert named(events, "run.finished")[0]["state"] == "finished"


def test_a_run_killed_right_after_init_keeps_its_init_events(store):
    result = run_python(
        f"""
        import os, signal, tracker
        tracker.init(project="p", dir={str(store)!r}, id="killed")
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL
    names = [event["event"] for event in events_of(store, "killed")]
    assert names[:2] == ["settings.resolved", "identity.decided"] and "run.init" in names
    assert "run.finished" not in names
    assert [event["run_id"] for event in named(host_events(store), "run.opened")] == ["killed"]


def test_log_level_filters_the_file_and_debug_echoes_to_stderr(store):
    run_python(
        f"import tracker; tracker.init(project='p', dir={str(store)!r}, id='quiet').finish()",
        env={"TRACKER_LOG_LEVEL": "warning"},
    )
    assert not (store.joinpath(*PROJECT_DIR, "quiet", "logs", "debug.log")).exists()  # no warning: no event
    loud = run_python(
        f"import tracker; tracker.init(project='p', dir={str(store)!r}, id='loud').finish()",
        env={"TRACKER_DEBUG": "1"},
    )
    assert "tracker debug: " in loud.stderr and " identity.decided " in loud.stderr and " lock.taken " in loud.stderr
    assert named(events_of(store, "loud"), "lock.taken")  # debug events reach the file too
    silent = run_python(f"import tracker; tracker.init(project='p', dir={str(store)!r}, id='plain').finish()")
    assert "tracker debug" not in silent.stderr and silent.stderr == ""
    with pytest.raises(tracker.UsageError, match="log_level"):
        tracker.Settings(log_level="loud")


def test_hydra_and_submitit_records_are_captured_only_while_the_run_lives(store):
    root_handlers = list(logging.getLogger().handlers)
    import hydra  # noqa: F401 - its logging is captured only in a process that uses it

    run = tracker.init(project="p", dir=store, id="lib")
    logging.getLogger("hydra.core.test").warning("from hydra %d", 1)
    logging.getLogger("submitit").error("from submitit")
    logging.getLogger("someone.else").error("not captured")
    run.finish()
    logging.getLogger("hydra").warning("after the finish")
    captured = named(events_of(store, "lib"), "library.log")
    assert [(event["logger"], event["message"], event["level"]) for event in captured] == [
        ("hydra.core.test", "from hydra 1", "warning"),
        ("submitit", "from submitit", "error"),
    ]
    assert logging.getLogger("hydra").handlers == [] and logging.getLogger().handlers == root_handlers


def test_secrets_are_redacted_from_events():
    from tracker import _redact

    _redact.add_secret("sk-this-is-the-key")
    event = _redact.processor(
        None,
        "info",
        {
            "event": "probe",
            "api_key": "abc",
            "settings": {"db_password": "pw", "project": "p"},
            "url": "postgresql://user:hunter22@db:5432/x?sslmode=require",
            "link": "https://h/api?token=tok123&page=2",
            "message": "header Bearer abcdefghijklmnop and sk-this-is-the-key",
        },
    )
    assert event["api_key"] == "<redacted>" and event["settings"] == {"db_password": "<redacted>", "project": "p"}
    assert event["url"] == "postgresql://user:<redacted>@db:5432/x?sslmode=require"
    assert event["link"] == "https://h/api?token=<redacted>&page=2"
    assert event["message"] == "header Bearer <redacted> and <redacted>"


def test_no_api_key_reaches_any_log_file(server, store):
    key = server.user("alice")
    result = run_python(
        f"""
        import tracker
        from tracker import _logs
        run = tracker.init(project="p", id="secret", dir={str(store)!r}, settings={{"log_level": "debug"}})
        _logs.run_event("info", "probe", note="the key is " + {key!r}, url={server.url!r} + "/x?token=" + {key!r})
        for step in range(50):
            run.log({{"loss": step}})
        run.finish()
        print(run.url)
        """,
        env={"TRACKER_BASE_URL": server.url, "TRACKER_API_KEY": key, "TRACKER_DEBUG": "1", "TRACKER_SILENT": "false"},
    )
    assert "/alice/p/secret" in result.stdout
    events = events_of(store, "secret")
    assert named(events, "online.connected") and named(events, "probe")[0]["note"] == "the key is <redacted>"
    names = [event["event"] for event in events]  # the upload's end is still the run's (its log closes last)
    assert names.index("run.finished") < names.index("online.stopped") and names[-1] == "online.stopped"
    assert named(events, "online.batch")[-1]["offset"] > 0  # log_level debug: each upload batch
    assert "probe" in result.stderr and key not in result.stderr  # the TRACKER_DEBUG echo is redacted too
    secret = key.encode()
    for root in (store, server.data):
        for path in (path for path in root.rglob("*") if path.is_file()):
            assert secret not in path.read_bytes(), path


@pytest.mark.slow
def test_a_submitit_sweep_logs_identity_submission_requeue_and_checkpoints(app):
    process = app.start("-m", "seed=0", "epochs=25", "epoch_sleep=0.2", "hydra/launcher=tracked_submitit_local")
    os.kill(pid_of_logging_job(app), signal.SIGUSR2)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    (run,) = app.runs()
    hosts = host_events(app.store)
    (identity,) = named(hosts, "sweep.identity")
    assert identity["group"] == run.group and identity["launcher"].startswith("TrackedSubmititLocal")
    (submitted,) = named(hosts, "jobs.submitted")
    assert submitted["count"] == 1 and submitted["jobs"][0]["run_id"] == run.id
    events = events_of(app.store, run.id, PROJECT)
    started = named(events, "job.started")
    assert [event["requeues"] for event in started] == [0, 1]
    assert all(event.get("submitit_job_id") for event in started)
    (queued,) = named(hosts, "jobs.queued")  # the scheduler's id, written when the job was submitted
    assert queued["jobs"] == [{"num": 0, "run_id": run.id, "job_id": started[0]["submitit_job_id"]}]
    assert named(events, "signal.received")[0]["signal"] == "SIGUSR2"
    assert named(events, "job.requeued")[0]["requeues"] == 1
    loaded = named(events, "checkpoint.loaded")
    assert [event["found"] for event in loaded] == [False, True]
    assert named(events, "checkpoint.saved") and named(events, "job.ended")[-1]["outcome"] == "returned"
    names = [event["event"] for event in events]
    assert names.index("job.requeued") < names.index("run.finished")


# ------------------------------------------------------------------ tracker logs


def logs_cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRACKER, "--dir", str(store), "logs", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_tracker_logs_prints_filters_and_follows(store):
    run = tracker.init(project="p", dir=store, id="cli1")
    tracker.console.warn("look at [red]this[/red] \x1b[2J")
    run.log({"x": 1}, step=3)
    run.log({"x": 1}, step=1)
    run.finish()
    readable = logs_cli(store, "cli1")
    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    assert " identity.decided " in lines[1] and "action=new" in lines[1] and lines[1].startswith("20")
    assert "look at [red]this[/red] \\u001b[2J" in readable.stdout and "\x1b" not in readable.stdout
    warnings = logs_cli(store, "cli1", "--level", "warning", "--json")
    assert {orjson.loads(line)["level"] for line in warnings.stdout.splitlines()} == {"warning"}
    only = logs_cli(store, "p/cli1", "--event", "step.*", "--json")
    assert [orjson.loads(line)["event"] for line in only.stdout.splitlines()] == ["step.dropped"]
    followed = logs_cli(store, "cli1", "--follow", "--event", "run.finished")
    assert followed.returncode == 0 and "run.finished" in followed.stdout
    host = logs_cli(store, "--host")
    assert "run.opened" in host.stdout and "run_id=cli1" in host.stdout
    other_host = store / "tracker-runs" / ".logs" / "node7.jsonl"  # another host's file of the shared store
    earlier = {"timestamp": "2000-01-01T00:00:00.000000Z", "level": "info", "event": "run.opened", "run_id": "far"}
    other_host.write_bytes(orjson.dumps(earlier) + b'\n{"torn')
    merged = logs_cli(store, "--host", "--json", "--event", "run.opened")
    assert [orjson.loads(line)["run_id"] for line in merged.stdout.splitlines()] == ["far", "cli1"]


def test_tracker_logs_follows_a_running_run_until_it_ends(store, tmp_path):
    go = tmp_path / "go"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import os, time, tracker
                run = tracker.init(project="p", dir={str(store)!r}, id="live")
                while not os.path.exists({str(go)!r}):
                    time.sleep(0.01)
                run.define_metric("late")
                run.finish()
            """),
        ]
    )
    wait_for(lambda: (store / "tracker-runs" / "projects" / "p" / "live" / "logs" / "debug.log").exists(), "log")
    follower = subprocess.Popen(
        [TRACKER, "--dir", str(store), "logs", "live", "--follow", "--json"], stdout=subprocess.PIPE, text=True
    )
    go.touch()
    output, _ = follower.communicate(timeout=60)
    child.wait(timeout=60)
    names = [orjson.loads(line)["event"] for line in output.splitlines()]
    assert names[0] == "settings.resolved" and names[-2:] == ["summary.rule", "run.finished"]


def test_tracker_logs_refuses_bad_arguments(store):
    tracker.init(project="p", dir=store, id="x").finish()
    for args, message in (
        ((), "give either RUN or --host"),
        (("x", "--host"), "give either RUN or --host"),
        (("--host", "--follow"), "--follow is for a run"),
        (("nope",), "nope"),
    ):
        result = logs_cli(store, *args)
        assert result.returncode == 2 and result.stderr.startswith("error:") and message in result.stderr, result
    bad_level = logs_cli(store, "x", "--level", "loud")
    assert bad_level.returncode == 2 and "loud" in bad_level.stderr


def test_a_lock_waited_for_names_its_holder(store, tmp_path):
    """A second process finds the run's lock held, waits, and takes it once the holder has finished."""
    ready, waiting, released = (tmp_path / name for name in ("ready", "waiting", "released"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import os, time, tracker
                run = tracker.init(project="p", dir={str(store)!r}, id="w")
                open({str(ready)!r}, "w").close()
                while not os.path.exists({str(waiting)!r}):
                    time.sleep(0.01)
                run.finish()
                open({str(released)!r}, "w").close()
            """),
        ]
    )
    wait_for_file(ready)
    # the lock's first retry pause becomes a barrier: it says "waiting" and lasts until the holder let go
    run_python(
        f"""
        import os, time, tracker
        pause = time.sleep
        def barrier(seconds):
            if not os.path.exists({str(waiting)!r}):
                open({str(waiting)!r}, "w").close()
                while not os.path.exists({str(released)!r}):
                    pause(0.01)
            pause(seconds)
        time.sleep = barrier
        run = tracker.init(project="p", dir={str(store)!r}, id="w", resume="allow")
        time.sleep = pause
        run.finish()
        """
    )
    assert holder.wait(timeout=60) == 0
    events = events_of(store, "w")
    (waited,) = named(events, "lock.waited")
    assert waited["holder"] == {"pid": holder.pid, "host": socket.gethostname()} and waited["waited_s"] > 0
    assert waited["path"].endswith(os.path.join("w", "lock")) and waited["level"] == "info"
    assert [event["action"] for event in named(events, "identity.decided")] == ["new", "resumed"]


def test_events_after_finish_are_dropped_and_never_bring_a_removed_run_back(store):
    run = tracker.init(project="p", dir=store, id="late")

    def failing_teardown() -> None:
        raise RuntimeError("the integration broke")

    run._finish_hooks.append(failing_teardown)  # its warning comes after run.finished: still the run's
    run.finish()
    written = events_of(store, "late")
    assert [event["event"] for event in written[-2:]] == ["run.finished", "warning.shown"]
    assert "the integration broke" in written[-1]["message"]
    run._debug.warning("late.event")  # a thread that outlived finish() (an upload past its deadline)
    assert events_of(store, "late") == written
    directory = store.joinpath(*PROJECT_DIR, "late")
    shutil.rmtree(directory)  # `tracker rm`
    run._debug.warning("later.event")
    assert not directory.exists()
    dropped = named(host_events(store), "event.dropped")
    assert [(event["dropped"], event["run_id"], event["level"]) for event in dropped] == [
        ("late.event", "late", "debug"),
        ("later.event", "late", "debug"),
    ]


def test_log_level_from_settings_and_the_environment(store, monkeypatch):
    tracker.init(project="p", dir=store, id="dbg", settings=tracker.Settings(log_level="debug")).finish()
    assert named(events_of(store, "dbg"), "lock.taken")  # debug events only when asked for
    tracker.init(project="p", dir=store, id="inf").finish()
    assert not named(events_of(store, "inf"), "lock.taken")
    monkeypatch.setenv("TRACKER_LOG_LEVEL", "error")
    run = tracker.init(project="p", dir=store, id="err")
    run.log({"x": 1}, step=2)
    run.log({"x": 1}, step=1)  # a warning: below the level
    run.finish()
    assert not store.joinpath(*PROJECT_DIR, "err", "logs", "debug.log").exists()
    monkeypatch.setenv("TRACKER_LOG_LEVEL", "loud")
    with pytest.raises(tracker.UsageError, match="loud"):
        tracker.init(project="p", dir=store, id="bad")


def test_the_debug_pipeline_is_made_of_structlog_processors(store):
    """The writer skips importing structlog, not its protocol: the same processors run under structlog."""
    import structlog

    from tracker import _redact

    _redact.add_secret("sk-known-key-1234")
    fields = {"api_key": "k", "url": "postgresql://u:pw@h/db", "note": "uses sk-known-key-1234"}
    logger = structlog.wrap_logger(
        structlog.ReturnLogger(), processors=[*_logs.processors(), structlog.processors.JSONRenderer()]
    )
    through_structlog = orjson.loads(logger.info("probe", timestamp=1_700_000_000.25, _echo=False, **fields))
    run = tracker.init(project="p", dir=store, id="proto")
    _logs.run_event("info", "probe", **fields)
    run.finish()
    (written,) = named(events_of(store, "proto"), "probe")
    assert through_structlog["timestamp"] == "2023-11-14T22:13:20.250000Z"
    for name in fields:
        assert written[name] == through_structlog[name] != fields[name]


def test_settings_from_a_file_an_id_from_the_environment_and_the_online_fallback(store, tmp_path, monkeypatch):
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text('project = "p"\n')
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(settings_file))
    monkeypatch.setenv("TRACKER_CREDENTIALS_FILE", str(tmp_path / "no-credentials.json"))
    monkeypatch.setenv("TRACKER_RUN_ID", "from-env")
    monkeypatch.setenv("TRACKER_BASE_URL", "http://127.0.0.1:9")
    for name in ("TRACKER_API_KEY", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    tracker.init(dir=store, mode="online", settings=tracker.Settings(log_level="debug")).finish()
    events = events_of(store, "from-env")
    (resolved,) = named(events, "settings.resolved")
    assert {name: resolved["sources"][name] for name in ("project", "run_id", "log_level", "mode")} == {
        "project": "file",
        "run_id": "environment",
        "log_level": "settings",
        "mode": "argument",
    }
    assert named(events, "identity.decided")[0]["id_source"] == "environment"
    (fallback,) = named(events, "online.fallback")  # decided before the run's log existed, kept for it
    assert fallback["base_url"] == "http://127.0.0.1:9" and "no API key" in fallback["problem"]
    assert "stored offline" in named(events, "warning.shown")[0]["message"]


def test_every_event_emitted_is_documented_and_every_documented_one_emitted():
    """Event names are read from the calls that emit them (ast), and held against FORMAT.md's table."""
    import ast
    import re

    repo = Path(__file__).resolve().parent.parent
    levels = {"debug", "info", "warning", "error"}
    emitters = {*levels, "event", "run_event", "host_event", "before_run", "checkpoint"}
    emitted = set()
    for path in [*(repo / "tracker").rglob("*.py"), *(repo / "launcher").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                for argument in node.args[:3] if name in emitters else ():
                    if isinstance(argument, ast.Constant) and re.fullmatch(r"[a-z_]+\.[a-z_]+", str(argument.value)):
                        emitted.add(argument.value)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 3:  # (level, event, fields) for DebugLog.events
                level, event = node.elts[0], node.elts[1]
                if isinstance(level, ast.Constant) and level.value in levels and isinstance(event, ast.Constant):
                    emitted.add(event.value)
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", (repo / "tracker" / "FORMAT.md").read_text(), re.M))
    assert emitted - documented == set()
    assert documented - emitted == {"library.log"}  # emitted through tracker._logcapture's constant


def test_upload_retries_while_the_server_is_down_are_events(server, store, monkeypatch):
    monkeypatch.setenv("TRACKER_BASE_URL", server.url)
    monkeypatch.setenv("TRACKER_API_KEY", server.user("bob"))
    run = tracker.init(project="p", id="flaky", dir=store, mode="online")
    run.log({"x": 0})
    server.stop(signal.SIGKILL)
    run.log({"x": 1})
    wait_for(lambda: named(events_of(store, "flaky"), "online.retry"), "an upload retry")
    server.start()  # the same port and data: the upload goes on
    run.finish()
    events = events_of(store, "flaky")
    retry = named(events, "online.retry")[0]
    assert retry["level"] == "warning" and retry["error"] and retry["wait_s"] > 0
    (stopped,) = named(events, "online.stopped")
    assert stopped["refused"] is None and stopped["level"] == "info"
