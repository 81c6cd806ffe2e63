"""log(): step and commit semantics, input checks, value types and the stored rows."""

from __future__ import annotations

import math

import pytest

import tracker


def history(store, run):
    return tracker.Api(store).run(f"{run.project}/{run.id}").history()


def test_implicit_steps_and_row_fields(store):
    run = tracker.init(project="p", dir=store)
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1)})
    assert run.step == 3
    rows = history(store, run)
    assert [row["_step"] for row in rows] == [0, 1, 2]
    assert [row["loss"] for row in rows] == [1.0, 0.5, 1 / 3]
    for row in rows:
        assert row["_runtime"] >= 0 and row["_timestamp"] > 1.7e9


def test_commit_false_accumulates_into_one_row(store):
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    assert run.step == 0
    run.log({"c": 3})
    run.log({"a": 4})
    rows = history(store, run)
    assert [(row["_step"], {k: v for k, v in row.items() if not k.startswith("_")}) for row in rows] == [
        (0, {"a": 1, "b": 2, "c": 3}),
        (1, {"a": 4}),
    ]


def test_explicit_step_stays_open_until_a_higher_step(store):
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1}, step=5)
    run.log({"b": 2}, step=5)
    assert run.step == 5
    run.log({"a": 3}, step=7, commit=True)
    assert run.step == 8
    run.log({"a": 4})
    rows = history(store, run)
    assert [(r["_step"], r.get("a"), r.get("b")) for r in rows] == [(5, 1, 2), (7, 3, None), (8, 4, None)]


def test_lower_step_is_rejected_with_a_warning_naming_both(store, capsys):
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1}, step=10, commit=True)
    run.log({"a": 2}, step=3)
    err = capsys.readouterr().err
    assert "step=3" in err and "step 11" in err
    assert [r["_step"] for r in history(store, run)] == [10]
    assert run.summary["a"] == 1


def test_warnings_for_decreasing_steps_are_capped_and_counted(store, capsys, monkeypatch):
    monkeypatch.setenv("TRACKER_SILENT", "false")
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1}, step=100, commit=True)
    for step in range(20):
        run.log({"a": 2}, step=step)
    run.finish()
    err = capsys.readouterr().err
    assert err.count("was not stored") == 5
    assert "20 log() calls with decreasing steps were not stored" in err


@pytest.mark.parametrize("data", [[("a", 1)], "a=1", None, 3])
def test_non_mapping_is_a_type_error(store, data):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(TypeError, match="mapping"):
        run.log(data)


def test_non_str_key_is_a_type_error_and_nothing_is_stored(store):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(TypeError, match="keys must be str"):
        run.log({1: 2.0})
    assert history(store, run) == [] and run.step == 0


@pytest.mark.parametrize("key", ["_step", "_runtime", "_timestamp"])
def test_reserved_keys_are_refused(store, key):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(tracker.UsageError, match=key):
        run.log({key: 1})


def test_callers_dict_is_not_modified(store):
    run = tracker.init(project="p", dir=store)
    data = {"a": 1}
    run.log(data)
    run.log(data, step=4)
    assert data == {"a": 1}


def test_bad_step_type(store):
    run = tracker.init(project="p", dir=store)
    for step in ("3", 1.5, True):
        with pytest.raises(TypeError, match="step"):
            run.log({"a": 1}, step=step)


def test_unstorable_value_names_the_key_and_stores_nothing(store):
    run = tracker.init(project="p", dir=store)
    with pytest.raises(tracker.UsageError, match="'weird'"):
        run.log({"fine": 1, "weird": object()})
    assert history(store, run) == [] and run.step == 0


def test_numpy_values(store):
    np = pytest.importorskip("numpy")
    run = tracker.init(project="p", dir=store)
    run.log(
        {
            "f64": np.float64(0.25),
            "f32": np.float32(0.5),
            "i": np.int64(7),
            "zero_d": np.array(1.5),
            "vec": np.arange(3),
        }
    )
    row = history(store, run)[0]
    assert (row["f64"], row["f32"], row["i"], row["zero_d"], row["vec"]) == (0.25, 0.5, 7, 1.5, [0, 1, 2])


def test_objects_with_item_are_unwrapped(store):
    """Torch scalars are handled by duck typing (torch itself is not installed in the test venv)."""

    class FakeScalar:
        def item(self):
            return 2.5

    run = tracker.init(project="p", dir=store)
    run.log({"t": FakeScalar()})
    assert history(store, run)[0]["t"] == 2.5


def test_nonfinite_floats_round_trip(store):
    run = tracker.init(project="p", dir=store)
    run.log({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "ok": 1.0})
    row = history(store, run)[0]
    assert math.isnan(row["nan"]) and row["inf"] == math.inf and row["ninf"] == -math.inf and row["ok"] == 1.0


def test_nonfinite_values_beside_nulls_and_numpy_scalars(store):
    """Lines holding null are the ones looked at again for NaN/inf: None values, text saying "null",
    numpy scalars (which orjson also writes as null when not finite) must all come back as logged."""
    np = pytest.importorskip("numpy")
    run = tracker.init(project="p", dir=store)
    run.log({"none": None, "text": "null", "np_nan": np.float64("nan"), "np_inf": np.float32("-inf"), "ok": 2})
    run.log({"none": None, "text": "nullable"})
    rows = history(store, run)
    assert rows[0]["none"] is None and rows[0]["text"] == "null" and rows[0]["ok"] == 2
    assert math.isnan(rows[0]["np_nan"]) and rows[0]["np_inf"] == -math.inf
    assert rows[1]["none"] is None and rows[1]["text"] == "nullable"


def test_nested_and_string_values(store):
    run = tracker.init(project="p", dir=store)
    run.log({"nested": {"a": [1, 2]}, "text": "hello"})
    row = history(store, run)[0]
    assert row["nested"] == {"a": [1, 2]} and row["text"] == "hello"


def test_log_after_finish_raises(store):
    run = tracker.init(project="p", dir=store)
    run.finish()
    with pytest.raises(tracker.UsageError, match="finished"):
        run.log({"a": 1})


def test_importing_tracker_does_not_import_numpy():
    from tests.conftest import run_python

    result = run_python(
        """
        import sys, tracker, tempfile
        run = tracker.init(project="p", dir=tempfile.mkdtemp())
        run.log({"a": 1.0})
        run.finish()
        heavy = ("numpy", "torch", "pandas", "pyarrow", "hydra", "omegaconf", "submitit", "PIL", "imageio")
        print(sorted(m for m in (*heavy, "tracker._media") if m in sys.modules))
        """
    )
    assert result.stdout.strip() == "[]"
