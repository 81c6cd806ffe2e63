"""How runs end: context manager, exit codes, uncaught exceptions, preemption signals, forks."""

from __future__ import annotations

import signal

import pytest

import tracker
from tests.conftest import run_python, wait_for


def final(store, run_id):
    """The run once its process is gone: a short-lived helper (git, forked before exec) may still share the lock
    description for an instant after the writer died, so wait for the state to settle rather than race it."""
    wait_for(lambda: tracker.Api(store).run(f"p/{run_id}").state != "running", f"run {run_id} to end")
    return tracker.Api(store).run(f"p/{run_id}")


def child(store, body: str, **kwargs):
    """Run a child that prints its run id first; returns (completed process, run view)."""
    header = (
        "import os, signal, sys, tracker\n"
        f"run = tracker.init(project='p', dir={str(store)!r})\n"
        "print(run.id, flush=True)\n"
    )
    result = run_python(
        header + body,
        check=False,
        **kwargs,
    )
    return result, final(store, result.stdout.split()[0])


def test_context_manager_finishes_and_reraises(store):
    with tracker.init(project="p", dir=store) as run:
        run.log({"a": 1})
    assert final(store, run.id).state == "finished" and final(store, run.id).exit_code == 0
    with pytest.raises(RuntimeError, match="boom"), tracker.init(project="p", dir=store) as failing:
        raise RuntimeError("boom")
    assert final(store, failing.id).state == "failed" and final(store, failing.id).exit_code == 1


def test_finish_is_idempotent_and_exit_code_sets_state(store):
    run = tracker.init(project="p", dir=store)
    run.finish(exit_code=3)
    run.finish()
    view = final(store, run.id)
    assert view.state == "failed" and view.exit_code == 3


def test_finished_run_cannot_be_mutated(store):
    run = tracker.init(project="p", dir=store)
    run.finish()
    for action in (
        lambda: run.config.update({"a": 1}),
        lambda: run.define_metric("x"),
        lambda: setattr(run, "tags", ["x"]),
        lambda: run.save("*.txt"),
    ):
        with pytest.raises(tracker.UsageError, match="finished"):
            action()


def test_interpreter_exit_finishes_with_the_real_exit_code(store):
    result, view = child(store, "run.log({'a': 1})\nsys.exit(3)\n")
    assert result.returncode == 3 and view.state == "failed" and view.exit_code == 3
    result, view = child(store, "run.log({'a': 1})\n")
    assert result.returncode == 0 and view.state == "finished" and view.exit_code == 0


def test_uncaught_exception_fails_the_run_and_the_users_excepthook_still_runs(store):
    body = """
def mine(*args):
    print("user hook saw", args[0].__name__, flush=True)
sys.excepthook = mine
raise ValueError("bad data")
"""
    result, view = child(store, body)
    assert "user hook saw ValueError" in result.stdout
    assert view.state == "failed" and view.exit_code == 1


def test_excepthook_installed_before_init_is_chained(store):
    result = run_python(
        f"""
        import sys, tracker
        sys.excepthook = lambda *a: print("chained", a[0].__name__, flush=True)
        run = tracker.init(project="p", dir={str(store)!r})
        print(run.id, flush=True)
        raise KeyError("k")
        """,
        check=False,
    )
    run_id, marker = result.stdout.split("\n")[:2]
    assert marker == "chained KeyError" and final(store, run_id).state == "failed"


def test_sigterm_marks_preempted_and_the_process_still_dies_of_it(store):
    result, view = child(store, "run.log({'a': 1})\nos.kill(os.getpid(), signal.SIGTERM)\nimport time; time.sleep(5)\n")
    assert result.returncode == -signal.SIGTERM
    assert view.state == "preempted" and view.exit_code == 128 + signal.SIGTERM
    assert view.summary["a"] == 1


def test_usr2_chains_to_a_handler_installed_before_init(store):
    """Submitit installs its USR2 handler before the task calls init(): ours must mark and then call it."""
    result = run_python(
        f"""
        import os, signal, sys, tracker
        signal.signal(signal.SIGUSR2, lambda *a: (print("requeue handler ran", flush=True), sys.exit(255)))
        run = tracker.init(project="p", dir={str(store)!r})
        print(run.id, flush=True)
        run.log({{"a": 1}})
        os.kill(os.getpid(), signal.SIGUSR2)
        """,
        check=False,
    )
    run_id, marker = result.stdout.split("\n")[:2]
    assert marker == "requeue handler ran" and result.returncode == 255
    view = final(store, run_id)
    assert view.state == "preempted" and view.exit_code == 255


def test_mark_preempting_then_killed_reads_preempted(store):
    _, view = child(store, "run.log({'a': 1})\nrun.mark_preempting()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert view.state == "preempted" and view.exit_code is None


def test_mark_preempting_then_finish(store):
    run = tracker.init(project="p", dir=store)
    run.mark_preempting()
    run.finish()
    assert final(store, run.id).state == "preempted"


def test_killed_run_reads_crashed(store):
    _, view = child(store, "run.log({'a': 1})\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert view.state == "crashed" and view.summary["a"] == 1


def test_a_forked_child_cannot_write_its_parents_run(store):
    result, view = child(
        store,
        """
pid = os.fork()
if pid == 0:
    try:
        run.log({"child": 1})
    except tracker.UsageError as error:
        print("child refused:", "forked child" in str(error), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
run.log({"parent": 1})
""",
    )
    assert "child refused: True" in result.stdout
    assert view.state == "finished" and "child" not in view.summary and view.summary["parent"] == 1


def test_disabled_run_accepts_everything_and_writes_nothing(store):
    run = tracker.init(project="p", dir=store, mode="disabled", config={"a": 1})
    run.log({"x": 1})
    run.log({"x": 2}, step=10)
    run.config.update({"b": 2})
    run.summary["s"] = 1
    run.define_metric("x", summary="max")
    run.mark_preempting()
    assert run.disabled and run.config["b"] == 2 and run.summary["s"] == 1
    run.finish()
    assert not (store / "tracker-runs").exists()


def test_a_forked_child_starts_its_own_run(store):
    _, parent = child(
        store,
        """
pid = os.fork()
if pid == 0:
    mine = tracker.init(project="p", dir=run.dir + "/../../../../..", id="childrun")
    mine.log({"child": 1})
    mine.finish()
    os._exit(0)
os.waitpid(pid, 0)
""",
    )
    assert parent.state == "finished"
    assert final(store, "childrun").summary["child"] == 1
