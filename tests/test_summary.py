"""Summary: last values, explicit writes, define_metric aggregates, and rebuilding from the history."""

from __future__ import annotations

import pytest

import tracker
from tests.conftest import run_python


def stored_summary(store, run):
    return tracker.Api(store).run(f"{run.project}/{run.id}").summary


def test_last_value_by_default_and_explicit_writes(store):
    run = tracker.init(project="p", dir=store)
    run.log({"loss": 3.0, "acc": 0.1})
    run.log({"loss": 2.0})
    run.summary["best"] = 7
    run.summary.update({"note": "ok"}, extra=1)
    assert run.summary["loss"] == 2.0 and run.summary["acc"] == 0.1 and run.summary.best == 7
    del run.summary["acc"]
    run.finish()
    summary = stored_summary(store, run)
    assert summary["loss"] == 2.0 and summary["best"] == 7 and summary["note"] == "ok" and summary["extra"] == 1
    assert "acc" not in summary
    assert summary["_step"] == 1


def test_explicit_value_is_overwritten_by_a_later_log(store):
    run = tracker.init(project="p", dir=store)
    run.summary["loss"] = 0.0
    run.log({"loss": 5.0})
    assert run.summary["loss"] == 5.0


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("min", 1.0), ("max", 4.0), ("mean", 2.5), ("first", 4.0), ("last", 2.0)],
)
def test_define_metric_aggregates(store, aggregate, expected):
    run = tracker.init(project="p", dir=store)
    run.define_metric("loss", summary=aggregate)
    for value in (4.0, 1.0, 3.0, 2.0):
        run.log({"loss": value})
    assert run.summary["loss"] == pytest.approx(expected)
    run.finish()
    assert stored_summary(store, run)["loss"] == pytest.approx(expected)


def test_none_keeps_the_metric_out_of_the_summary(store):
    run = tracker.init(project="p", dir=store)
    run.define_metric("noise", summary="none")
    run.log({"noise": 1, "kept": 2})
    assert "noise" not in run.summary and run.summary["kept"] == 2


def test_several_aggregates_and_globs(store):
    run = tracker.init(project="p", dir=store)
    run.define_metric("val/*", summary="min,max")
    run.define_metric("val/acc", summary="max")
    for loss, acc in ((3.0, 0.2), (1.0, 0.9), (2.0, 0.5)):
        run.log({"val/loss": loss, "val/acc": acc, "train/loss": loss})
    assert run.summary["val/loss"] == {"min": 1.0, "max": 3.0}
    assert run.summary["val/acc"] == 0.9  # the exact rule wins over the glob
    assert run.summary["train/loss"] == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"summary": "median"}, "median"),
        ({"summary": "none,min"}, "none"),
        ({"goal": "up"}, "goal"),
        ({"summary": 3}, "summary"),
    ],
)
def test_define_metric_validation(store, kwargs, match):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(tracker.UsageError, match=match):
        run.define_metric("loss", **kwargs)


def test_glob_only_at_the_end(store):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(tracker.UsageError, match=r"\*"):
        run.define_metric("a*b")


def test_summary_of_a_killed_run_is_rebuilt_from_the_history(store):
    """Explicit writes and metric rules are journaled, so a SIGKILL loses neither."""
    result = run_python(
        f"""
        import os, signal, tracker
        run = tracker.init(project="p", dir={str(store)!r})
        run.define_metric("loss", summary="min")
        for value in (3.0, 1.0, 2.0):
            run.log({{"loss": value, "acc": value / 10}})
        run.summary["best_epoch"] = 4
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    run_id = result.stdout.strip()
    view = tracker.Api(store).run(f"p/{run_id}")
    assert view.state == "crashed"
    summary = view.summary
    assert summary["loss"] == 1.0 and summary["acc"] == 0.2 and summary["best_epoch"] == 4


def test_summary_mutation_after_finish_raises(store):
    run = tracker.init(project="p", dir=store)
    run.finish()
    with pytest.raises(tracker.UsageError, match="finished"):
        run.summary["x"] = 1


def test_arrays_under_a_min_rule_never_break_logging(store):
    np = pytest.importorskip("numpy")
    run = tracker.init(project="p", dir=store)
    run.define_metric("a", summary="min")
    run.summary["a"] = "not a number"
    run.log({"a": np.array([3.0, 1.0])})
    run.log({"a": np.float32(2.0)})
    run.log({"a": 5.0})
    assert run.step == 3 and run.summary["a"] == 2.0


def test_nonfinite_values_survive_in_the_final_summary(store):
    np = pytest.importorskip("numpy")
    run = tracker.init(project="p", dir=store)
    run.log({"py": float("inf"), "f32": np.float32("nan"), "zero_d": np.array(float("-inf"))})
    run.finish()
    view = tracker.Api(store).run(f"p/{run.id}")
    row, summary = view.history()[0], view.summary
    for source in (row, summary):
        assert source["py"] == float("inf") and source["f32"] != source["f32"] and source["zero_d"] == float("-inf")


def test_a_resumed_run_killed_while_preempting_summarizes_its_whole_history(store):
    first = tracker.init(project="p", dir=store, id="rk")
    for x in range(3):
        first.log({"x": x})
    first.mark_preempting()
    first.finish()
    run_python(
        f"""
        import os, tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="rk", resume="must")
        for x in range(3, 10):
            run.log({{"x": x}})
        run.mark_preempting()
        os._exit(1)
        """,
        check=False,
    )
    view = tracker.Api(store).run("p/rk")
    assert view.state == "preempted" and view.summary["x"] == 9 and view.history()[-1]["x"] == 9


# ------------------------------------------------------------------ wandb's define_metric options


def test_a_later_definition_is_merged_unless_overwrite(store):
    run = tracker.init(project="p", dir=store)
    run.define_metric("loss", summary="min")
    run.define_metric("loss", summary="max")  # wandb's documented way to get both
    run.define_metric("loss", goal="minimize")  # leaves the summary as it was
    run.define_metric("acc", summary="min")
    run.define_metric("acc", summary="max", overwrite=True)
    for loss, acc in ((3.0, 0.2), (1.0, 0.9), (2.0, 0.5)):
        run.log({"loss": loss, "acc": acc})
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0} and run.summary["acc"] == 0.9
    run.finish()
    assert stored_summary(store, run)["loss"] == {"min": 1.0, "max": 3.0}  # readers fold the merged rule


@pytest.mark.parametrize(
    ("summary", "goal", "expected"),
    [("best", "maximize", 0.9), ("best", "minimize", 0.2), ("best", None, 0.2), ("copy", None, 0.5)],
)
def test_best_follows_the_goal_and_copy_is_the_last_value(store, summary, goal, expected):
    run = tracker.init(project="p", dir=store)
    run.define_metric("acc", summary=summary, goal=goal)
    for acc in (0.2, 0.9, 0.5):
        run.log({"acc": acc})
    run.finish()
    assert run.summary["acc"] == expected and stored_summary(store, run)["acc"] == expected


def test_step_sync_copies_the_step_metric_into_rows_that_lack_it(store):
    run = tracker.init(project="p", dir=store, id="sync")
    run.log({"epoch": 1})  # logged before the rule: still the value copied
    run.define_metric("val/*", step_metric="epoch")  # step_sync defaults to on with a step_metric
    run.define_metric("train/loss", step_metric="epoch", step_sync=False)
    run.log({"val/loss": 0.5})
    run.log({"epoch": 2, "val/loss": 0.4})
    run.log({"val/acc": 0.7, "train/loss": 1.0})
    run.log({"train/loss": 0.9})
    run.finish()
    rows = tracker.Api(store).run("p/sync").history()
    assert [row.get("epoch") for row in rows] == [1, 1, 2, 2, None]


def test_step_sync_goes_on_after_a_resume(store):
    result = run_python(
        f"""
        import os, signal, tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="again")
        run.define_metric("val", step_metric="epoch")
        run.log({{"epoch": 7, "val": 1.0}})
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    assert result.returncode == -9
    run = tracker.init(project="p", dir=store, id="again", resume="must")
    run.log({"val": 0.5})
    run.finish()
    assert tracker.Api(store).run("p/again").history()[-1]["epoch"] == 7


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overwrite": "yes"}, "define_metric: overwrite='yes' must be a bool"),
        ({"step_sync": 1}, "define_metric: step_sync=1 must be a bool"),
        ({"hidden": "no"}, "define_metric: hidden='no' must be a bool"),
        ({"summary": "min,copy,median"}, "median"),
    ],
)
def test_define_metric_options_are_checked(store, kwargs, match):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(tracker.UsageError, match=match):
        run.define_metric("loss", **kwargs)
