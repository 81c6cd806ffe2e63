"""Every ``tracker.init()`` argument: its documented meaning, its round trip through Api, and its bad inputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tracker
from tests.conftest import assert_nothing_written

FORBIDDEN = ["/", "\\", "#", "?", "%", ":"]


def projects_dir(store: Path) -> Path:
    return store / "tracker-runs" / "projects"


def view(store: Path, run: tracker.Run) -> Any:
    return tracker.Api(dir=store).run(f"{run.project}/{run.id}")


def names_character(message: str, value: str, char: str) -> bool:
    """The message names ``char`` itself, beyond merely quoting the offending value."""
    rest = message.replace(repr(value), "").replace(value, "")
    return char in rest


# ---------------------------------------------------------------- job_type, tags, notes, name, group, entity


def test_job_type_default_is_train(store: Path) -> None:
    """Without job_type the run (and its stored record) has job_type 'train'."""
    run = tracker.init(dir=store, project="p")
    assert run.job_type == "train"
    run.finish()
    assert view(store, run).job_type == "train"
    assert [v.id for v in tracker.Api(dir=store).runs("p", job_type="train")] == [run.id]


def test_job_type_explicit(store: Path) -> None:
    """An explicit job_type is kept and filterable."""
    run = tracker.init(dir=store, project="p", job_type="eval")
    run.finish()
    assert view(store, run).job_type == "eval"
    assert tracker.Api(dir=store).runs("p", job_type="train") == []


@pytest.mark.parametrize("job_type", ["", "   ", 5, "j" * 65])
def test_bad_job_type(job_type: object, store: Path) -> None:
    """Empty, non-string or over-long job_type is a UsageError naming job_type; nothing written."""
    with pytest.raises(tracker.UsageError, match="job_type"):
        tracker.init(dir=store, project="p", job_type=job_type)  # type: ignore[arg-type]
    assert_nothing_written(store)


def test_tags_string_is_one_tag(store: Path) -> None:
    """tags='a b,c' is exactly one tag."""
    run = tracker.init(dir=store, project="p", tags="a b,c")
    assert run.tags == ("a b,c",)
    run.finish()
    assert view(store, run).tags == ("a b,c",)


def test_tags_sequence_round_trip(store: Path) -> None:
    """A list of tags keeps its order, drops duplicates, accepts 1 and 64 characters, and is filterable."""
    tags = ["x", "t" * 64, "baseline", "x"]
    run = tracker.init(dir=store, project="p", tags=tags)
    assert run.tags == ("x", "t" * 64, "baseline")
    run.finish()
    assert view(store, run).tags == ("x", "t" * 64, "baseline")
    assert [v.id for v in tracker.Api(dir=store).runs("p", tags=["baseline", "x"])] == [run.id]
    assert tracker.Api(dir=store).runs("p", tags="other") == []


def test_tags_tuple_and_setter(store: Path) -> None:
    """A tuple of tags works; run.tags can be replaced while live and the store follows."""
    run = tracker.init(dir=store, project="p", tags=("a", "b"))
    run.tags = ["c"]
    assert run.tags == ("c",)
    assert view(store, run).tags == ("c",)
    with pytest.raises(tracker.UsageError):
        run.tags = ["d" * 65]
    assert view(store, run).tags == ("c",)


@pytest.mark.parametrize(
    "tags",
    [[""], ["ok", "x" * 65], "", "y" * 65, [1], ["ok", None], 5, {"a": 1}, b"tag"],
    ids=["empty-in-list", "65-in-list", "empty-str", "65-str", "int-tag", "none-tag", "int", "dict", "bytes"],
)
def test_bad_tags(tags: object, store: Path) -> None:
    """A tag of 0 or 65 characters, a non-string tag or a non-sequence is a UsageError; nothing written."""
    with pytest.raises(tracker.UsageError):
        tracker.init(dir=store, project="p", tags=tags)
    assert_nothing_written(store)


def test_notes_multiline_round_trip(store: Path) -> None:
    """Multiline notes (blank lines, indentation, unicode) come back through Api unchanged."""
    notes = "first line\n\n  indented second: 100% #1 ?\nthird line \u2013 \u00fcn\u00efcode \u2713\n"
    run = tracker.init(dir=store, project="p", notes=notes)
    assert run.notes == notes
    run.finish()
    assert view(store, run).notes == notes


def test_notes_setter(store: Path) -> None:
    """run.notes can be set while live and the store follows."""
    run = tracker.init(dir=store, project="p")
    assert run.notes is None
    run.notes = "later\nnotes"
    assert view(store, run).notes == "later\nnotes"


def test_name_group_entity_round_trip(store: Path) -> None:
    """name, group and entity are kept exactly and read back through Api (including entity/project/id paths)."""
    run = tracker.init(dir=store, project="proj", name="my run: #1 / test", group="sweep-7", entity="team_a")
    assert (run.name, run.group, run.entity) == ("my run: #1 / test", "sweep-7", "team_a")
    assert run.path == f"team_a/proj/{run.id}"
    run.finish()
    stored = tracker.Api(dir=store).run(run.path)
    assert (stored.name, stored.group, stored.entity, stored.project, stored.id) == (
        "my run: #1 / test",
        "sweep-7",
        "team_a",
        "proj",
        run.id,
    )
    assert stored.path == run.path  # one meaning of path: entity/project/id; the directory is the view's own
    assert os.path.samefile(stored.directory, os.path.dirname(run.dir))
    assert [v.id for v in tracker.Api(dir=store).runs("proj", group="sweep-7")] == [run.id]
    assert tracker.Api(dir=store).runs("proj", group="other") == []


def test_name_setter(store: Path) -> None:
    """run.name can be changed while live; an empty name is refused."""
    run = tracker.init(dir=store, project="p", name="before")
    run.name = "after"
    assert view(store, run).name == "after"
    with pytest.raises(tracker.UsageError):
        run.name = ""
    assert run.name == "after"


def test_default_name_project_entity_group(store: Path) -> None:
    """Defaults: a generated non-empty name, project 'uncategorized', no entity, no group, no notes."""
    run = tracker.init(dir=store)
    assert isinstance(run.name, str) and run.name.strip()
    run.finish()
    stored = view(store, run)
    assert (stored.project, stored.entity, stored.group, stored.notes) == ("uncategorized", None, None, None)
    assert stored.name == run.name
    assert (projects_dir(store) / "uncategorized" / run.id).is_dir()


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("name", 5),
        ("name", "n" * 129),
        ("group", 5),
        ("group", "g" * 129),
        ("notes", 5),
        ("notes", ["a"]),
        ("entity", 5),
        ("entity", ""),
        ("project", 5),
        ("project", ""),
        ("project", "p" * 129),
        ("project", ".hidden"),
        ("project", ".."),
        ("id", 5),
        ("id", ""),
        ("id", "r" * 129),
        ("id", "."),
        ("id", "a b"),
        ("mode", "bogus"),
        ("mode", 1),
        ("resume", "sometimes"),
        ("resume", 1),
        ("reinit", "sometimes"),
        ("reinit", 2),
        ("force", "maybe"),
        ("force", 2),
        ("save_code", "perhaps"),
        ("dir", 5),
        ("dir", ""),
        ("dir", "a\x00b"),
    ],
)
def test_bad_argument_value(argument: str, value: object, store: Path) -> None:
    """Each bad argument value is a UsageError (also a ValueError) naming the argument; nothing written."""
    kwargs: dict[str, Any] = {"dir": store, "project": "p", argument: value}
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(**kwargs)
    assert isinstance(caught.value, ValueError)
    assert argument in str(caught.value)
    assert_nothing_written(store)
    assert not (Path.cwd() / "tracker-runs").exists()


# ---------------------------------------------------------------- ids and project names


@pytest.mark.parametrize("char", FORBIDDEN)
@pytest.mark.parametrize("argument", ["id", "project", "entity"])
def test_forbidden_character(argument: str, char: str, store: Path) -> None:
    """ids, project and entity names containing / \\ # ? % : are refused, naming the character; nothing written."""
    value = f"ab{char}cd"
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, **{argument: value})
    message = str(caught.value)
    assert argument in message
    assert names_character(message, value, char), message
    assert_nothing_written(store)
    assert not (Path.cwd() / "tracker-runs").exists()


def test_allowed_id_and_project_characters(store: Path) -> None:
    """Letters, digits, '-', '_' and '.' (not leading) are fine in ids and project names."""
    run = tracker.init(dir=store, project="My-Proj_2.0", id="Run-1_a.b")
    assert (run.project, run.id) == ("My-Proj_2.0", "Run-1_a.b")
    run.finish()
    assert tracker.Api(dir=store).run("My-Proj_2.0/Run-1_a.b").state == "finished"


def test_explicit_id_used(store: Path) -> None:
    """An explicit id names the run directory and the Api path."""
    run = tracker.init(dir=store, project="p", id="chosen01")
    assert run.id == "chosen01"
    assert (projects_dir(store) / "p" / "chosen01").is_dir()


def test_generated_ids_short_lowercase_unique(store: Path) -> None:
    """Generated ids are 8 lowercase alphanumeric characters, unique over 200 runs."""
    ids = []
    for _ in range(200):
        run = tracker.init(dir=store, project="p", settings={"disable_git": True})
        ids.append(run.id)
        run.finish()
    assert all(re.fullmatch(r"[a-z0-9]{8}", run_id) for run_id in ids), ids
    assert len(set(ids)) == 200
    assert sorted(path.name for path in (projects_dir(store) / "p").iterdir()) == sorted(ids)


def test_disabled_run_generates_id_too() -> None:
    """A disabled run also gets a generated id of the same shape."""
    run = tracker.init(mode="disabled")
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)


# ---------------------------------------------------------------- dir


def test_dir_created_if_missing(tmp_path: Path) -> None:
    """A dir that does not exist (several levels) is created and holds the run."""
    target = tmp_path / "a" / "b" / "c"
    run = tracker.init(dir=target, project="p")
    run.finish()
    assert (target / "tracker-runs" / "projects" / "p" / run.id).is_dir()
    assert tracker.Api(dir=target).run(f"p/{run.id}").state == "finished"
    assert tracker.Api(dir=str(target)).run(f"p/{run.id}").id == run.id


def test_dir_relative_is_resolved_against_cwd() -> None:
    """A relative dir is taken relative to the current directory."""
    run = tracker.init(dir="relative-store", project="p")
    assert (Path.cwd() / "relative-store" / "tracker-runs" / "projects" / "p" / run.id).is_dir()


def test_dir_default_is_cwd() -> None:
    """Without dir (or TRACKER_DIR) the store is in the current directory, where Api() looks too."""
    run = tracker.init(project="p")
    run.finish()
    assert (Path.cwd() / "tracker-runs" / "projects" / "p" / run.id).is_dir()
    assert tracker.Api().run(f"p/{run.id}").id == run.id


def test_dir_not_writable_falls_back_to_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unusable dir (below a regular file) falls back to a private temp dir with one warning naming both."""
    blocker = tmp_path / "regular-file"
    blocker.write_text("not a directory", encoding="utf-8")
    bad_dir = blocker / "store"
    fallback = tmp_path / "fallback-tmp"
    fallback.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fallback))
    capsys.readouterr()

    run = tracker.init(dir=bad_dir, project="p")
    run.log({"x": 1})
    run.finish()

    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("tracker: warning:")]
    assert len(warnings) == 1, err
    assert str(bad_dir) in warnings[0]
    assert str(fallback) in warnings[0]
    private = fallback / f"tracker-{os.getuid()}"
    assert str(private) in warnings[0] and private.stat().st_mode & 0o777 == 0o700
    stored = tracker.Api(dir=private).run(f"p/{run.id}")
    assert stored.state == "finished"
    assert [row["x"] for row in stored.history()] == [1]
    assert blocker.read_text(encoding="utf-8") == "not a directory"


def test_dir_and_temp_dir_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the temp dir is unusable too, init() raises a UsageError naming both paths."""
    blocker = tmp_path / "regular-file"
    blocker.write_text("x", encoding="utf-8")
    bad_dir = blocker / "store"
    bad_tmp = blocker / "tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(bad_tmp))
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=bad_dir, project="p")
    assert str(bad_dir) in str(caught.value)
    assert str(bad_tmp) in str(caught.value)
    assert tracker.run is None


# ---------------------------------------------------------------- mode and force


def test_disabled_mode_accepts_everything_writes_nothing(store: Path, tmp_path: Path) -> None:
    """mode='disabled' returns a run that accepts every call and writes nothing anywhere under the store."""
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00\x01")
    with tracker.init(dir=store, project="p", mode="disabled", config={"a": 1}, name="n", tags=["t"]) as run:
        assert run.disabled is True and run.offline is False
        assert tracker.run is run
        assert (run.project, run.name, run.tags, run.job_type) == ("p", "n", ("t",), "train")
        run.log({"loss": 0.5})
        run.log({"loss": 0.4}, step=5)
        run.log({"acc": 1}, commit=False)
        tracker.log({"loss": 0.3})
        run.config["b"] = 2
        run.config.update({"c": 3})
        run.summary["best"] = 0.1
        run.summary.update({"other": 2})
        run.define_metric("loss", summary="min")
        run.define_metric("acc*", summary="max")
        assert run.save(str(source)) == []
        run.mark_preempting()
        assert run.config.as_dict() == {"a": 1, "b": 2, "c": 3}
    run.finish()  # idempotent
    assert tracker.run is None
    assert_nothing_written(store)
    assert not (Path.cwd() / "tracker-runs").exists()


def test_disabled_mode_still_rejects_bad_log_input(store: Path) -> None:
    """A disabled run keeps the log() contract: non-mapping data is a TypeError."""
    run = tracker.init(dir=store, mode="disabled")
    with pytest.raises(TypeError):
        run.log([1, 2])  # type: ignore[arg-type]
    run.finish()
    with pytest.raises(tracker.UsageError):
        run.log({"x": 1})


def test_offline_mode(store: Path) -> None:
    """mode='offline' stores the run locally."""
    run = tracker.init(dir=store, project="p", mode="offline")
    assert (run.offline, run.disabled) == (True, False)
    assert (projects_dir(store) / "p" / run.id).is_dir()


def test_online_without_force_runs_offline_with_one_warning(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mode='online' with no server runs offline, printing exactly one warning line."""
    capsys.readouterr()
    run = tracker.init(dir=store, project="p", mode="online")
    run.log({"x": 1})
    run.finish()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("tracker: warning:")
    assert "online" in lines[0]
    assert run.offline is True
    stored = view(store, run)
    assert stored.state == "finished"
    assert [row["x"] for row in stored.history()] == [1]


def test_online_with_force_false_explicit(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """force=False behaves like no force: offline with a warning."""
    run = tracker.init(dir=store, project="p", mode="online", force=False)
    assert run.offline is True
    assert "tracker: warning:" in capsys.readouterr().err


def test_online_with_force_raises(store: Path) -> None:
    """mode='online', force=True needs a server: tracker.Error, nothing written."""
    with pytest.raises(tracker.Error, match="force=True, but no tracking server is configured"):
        tracker.init(dir=store, project="p", mode="online", force=True)
    assert_nothing_written(store)
    assert tracker.run is None


def test_force_with_offline_is_fine(store: Path) -> None:
    """force=True only matters when a server is needed: offline runs start normally."""
    run = tracker.init(dir=store, project="p", mode="offline", force=True)
    assert run.offline is True
    assert (projects_dir(store) / "p" / run.id).is_dir()


# ---------------------------------------------------------------- integrations and magic


@pytest.mark.parametrize(
    "kwargs",
    [
        {"magic": {"keras": {"fit": True}}},
        {"magic": '{"keras": {"fit": true}}'},
    ],
    ids=["magic-dict", "magic-json"],
)
def test_unknown_magic_settings_raise(kwargs: dict[str, Any], store: Path) -> None:
    """A magic setting that does not exist is a UsageError naming it; nothing written."""
    with pytest.raises(tracker.UsageError, match="magic: 'keras' is not a magic setting"):
        tracker.init(dir=store, project="p", **kwargs)
    assert_nothing_written(store)


def test_magic_yaml_path_is_read(store: Path, tmp_path: Path) -> None:
    """magic as the path of a YAML file is read like the dict form (an unknown key in it is an error)."""
    path = tmp_path / "magic.yaml"
    path.write_text("keras:\n  fit: true\n", encoding="utf-8")
    with pytest.raises(tracker.UsageError, match="'keras' is not a magic setting"):
        tracker.init(dir=store, project="p", magic=str(path))
    assert_nothing_written(store)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"magic": False},
        {"magic": None},
        {"magic": {}},
        {"magic": "{}"},
        {"tensorboard": False, "sync_tensorboard": False, "monitor_gym": False},
    ],
    ids=["magic-false", "magic-none", "magic-empty-dict", "magic-empty-json", "integrations-false"],
)
def test_integrations_off_are_fine(kwargs: dict[str, Any], store: Path) -> None:
    """Turning integrations off (or an empty magic) starts a normal run."""
    run = tracker.init(dir=store, project="p", **kwargs)
    run.log({"x": 1})
    run.finish()
    assert view(store, run).state == "finished"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("tensorboard", "yes"),
        ("tensorboard", 1),
        ("sync_tensorboard", "true"),
        ("sync_tensorboard", 0),
        ("monitor_gym", [True]),
        ("magic", 3),
        ("magic", ["keras"]),
        ("magic", "neither json nor a file"),
    ],
)
def test_bad_integration_types(argument: str, value: object, store: Path) -> None:
    """Bad types for integration arguments are UsageErrors naming the argument; nothing written."""
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, project="p", **{argument: value})
    assert argument in str(caught.value)
    assert_nothing_written(store)


# ---------------------------------------------------------------- anonymous


@pytest.mark.parametrize("anonymous", ["allow", "must", "never"])
def test_anonymous_accepted(anonymous: str, store: Path) -> None:
    """anonymous accepts allow/must/never and the run starts normally."""
    run = tracker.init(dir=store, project="p", anonymous=anonymous)
    run.finish()
    assert view(store, run).state == "finished"
    record = json.loads((projects_dir(store) / "p" / run.id / "run.json").read_text(encoding="utf-8"))
    assert record["anonymous"] == anonymous


@pytest.mark.parametrize("anonymous", ["sometimes", "", True, 1])
def test_anonymous_rejected(anonymous: object, store: Path) -> None:
    """Other anonymous values are UsageErrors naming the argument; nothing written."""
    with pytest.raises(tracker.UsageError, match="anonymous"):
        tracker.init(dir=store, project="p", anonymous=anonymous)  # type: ignore[arg-type]
    assert_nothing_written(store)


# ---------------------------------------------------------------- save_code


SCRIPT = """\
# a training entry point -- marker 7f3a
import sys
import tracker

run = tracker.init(dir=sys.argv[1], project="code", save_code=SAVE_CODE)
run.log({"loss": 1.0})
print(run.id)
print(run.dir)
run.finish()
"""


def _run_script(tmp_path: Path, store: Path, save_code: str, env: dict[str, str] | None = None) -> tuple[str, str, str]:
    script = tmp_path / "scripts" / "train_entry.py"
    script.parent.mkdir(exist_ok=True)
    text = SCRIPT.replace("SAVE_CODE", save_code)
    script.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), str(store)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    run_id, run_dir = result.stdout.split()
    return run_id, run_dir, text


@pytest.mark.parametrize(
    ("save_code", "env"),
    [("True", None), ("None", {"TRACKER_SAVE_CODE": "true"})],
    ids=["keyword", "environment"],
)
def test_save_code_copies_entry_point(save_code: str, env: dict[str, str] | None, store: Path, tmp_path: Path) -> None:
    """save_code=True (or TRACKER_SAVE_CODE) copies the entry-point script into run.dir/code/."""
    run_id, run_dir, text = _run_script(tmp_path, store, save_code, env)
    stored = tracker.Api(dir=store).run(f"code/{run_id}")
    assert os.path.realpath(stored.files_dir) == os.path.realpath(run_dir)
    copied = Path(stored.files_dir) / "code" / "train_entry.py"
    assert copied.read_text(encoding="utf-8") == text
    assert stored.state == "finished"


def test_save_code_false_copies_nothing(store: Path, tmp_path: Path) -> None:
    """Without save_code no code is copied."""
    _, run_dir, _ = _run_script(tmp_path, store, "False")
    assert Path(run_dir).is_dir()
    assert not (Path(run_dir) / "code").exists()


def test_save_code_without_script_is_harmless(store: Path) -> None:
    """save_code=True in a process without an entry-point script (python -c) still starts the run."""
    code = textwrap.dedent(
        f"""
        import tracker
        run = tracker.init(dir={str(store)!r}, project="code", save_code=True)
        print(run.id)
        run.finish()
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    stored = tracker.Api(dir=store).run(f"code/{result.stdout.strip()}")
    assert stored.state == "finished"
    assert not (Path(stored.files_dir) / "code").exists()


# ---------------------------------------------------------------- settings


def test_settings_dict_unknown_key(store: Path) -> None:
    """settings= with an unknown key is a UsageError naming it; nothing written."""
    with pytest.raises(tracker.UsageError, match="not_a_setting"):
        tracker.init(dir=store, project="p", settings={"not_a_setting": 1})
    assert_nothing_written(store)


def test_settings_object_accepted(store: Path) -> None:
    """settings=tracker.Settings(...) feeds the run."""
    run = tracker.init(dir=store, settings=tracker.Settings(project="from-settings", run_group="g"))
    assert (run.project, run.group) == ("from-settings", "g")
