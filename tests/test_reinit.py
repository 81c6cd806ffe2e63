"""reinit modes and the module-level proxies (tracker.run, log, config, summary)."""

from __future__ import annotations

import pytest

import tracker


def test_proxies_before_init_say_to_call_init():
    assert tracker.run is None
    with pytest.raises(tracker.Error, match=r"tracker.init\(\)"):
        tracker.log({"a": 1})
    with pytest.raises(tracker.Error, match=r"tracker.init\(\)"):
        tracker.config["lr"] = 1
    with pytest.raises(tracker.Error, match=r"tracker.init\(\)"):
        _ = tracker.summary["x"]
    tracker.finish()  # a no-op without a run, as in wandb


def test_proxies_forward_to_the_current_run(store):
    run = tracker.init(project="p", dir=store, config={"lr": 1})
    assert tracker.run is run
    tracker.log({"a": 2})
    tracker.config.update({"bs": 4})
    tracker.summary["best"] = 3
    assert tracker.config.lr == 1 and run.config["bs"] == 4 and run.summary["best"] == 3 and run.summary["a"] == 2
    tracker.finish()
    assert tracker.run is None and run.step == 1


@pytest.mark.parametrize("reinit", [None, False, "return_previous"])
def test_return_previous(store, reinit):
    first = tracker.init(project="p", dir=store)
    second = tracker.init(project="p", dir=store, reinit=reinit)
    assert second is first


@pytest.mark.parametrize("reinit", [True, "finish_previous"])
def test_finish_previous(store, reinit):
    first = tracker.init(project="p", dir=store)
    second = tracker.init(project="p", dir=store, reinit=reinit)
    assert second is not first and tracker.run is second
    assert tracker.Api(store).run(f"p/{first.id}").state == "finished"
    with pytest.raises(tracker.UsageError):
        first.log({"a": 1})


def test_create_new_keeps_several_live_runs(store):
    first = tracker.init(project="p", dir=store)
    second = tracker.init(project="p", dir=store, reinit="create_new")
    assert tracker.run is first
    first.log({"a": 1})
    second.log({"b": 2})
    second.finish()
    assert tracker.run is first
    assert tracker.Api(store).run(f"p/{first.id}").state == "running"


def test_bad_reinit(store):
    with pytest.raises(tracker.UsageError, match="reinit"):
        tracker.init(project="p", dir=store, reinit="sometimes")
