"""Settings and their precedence: defaults < settings file < TRACKER_* environment < settings= < keywords."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tracker
from tests.conftest import run_python


def _projects(store: Path) -> Path:
    return store / "tracker-runs" / "projects"


def assert_nothing_written(store: Path) -> None:
    """No project directory and no file at all appeared under the store."""
    projects = _projects(store)
    assert not projects.exists() or list(projects.iterdir()) == []
    files = [os.path.join(root, name) for root, _, names in os.walk(store) for name in names]
    assert files == []


def write_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(path))
    return path


FILE_TEXT = """
project = "file-project"
entity = "file-entity"
run_name = "file-name"
run_group = "file-group"
run_job_type = "file-job"
run_tags = ["file-a", "file-b"]
run_notes = "file notes"
"""

ENV_VALUES = {
    "TRACKER_PROJECT": "env-project",
    "TRACKER_ENTITY": "env-entity",
    "TRACKER_NAME": "env-name",
    "TRACKER_RUN_GROUP": "env-group",
    "TRACKER_JOB_TYPE": "env-job",
    "TRACKER_TAGS": "env-a,env-b",
    "TRACKER_NOTES": "env notes",
}

SETTINGS_VALUES = {
    "project": "settings-project",
    "entity": "settings-entity",
    "run_name": "settings-name",
    "run_group": "settings-group",
    "run_job_type": "settings-job",
    "run_tags": ["settings-a"],
    "run_notes": "settings notes",
}

KEYWORD_VALUES = {
    "project": "kw-project",
    "entity": "kw-entity",
    "name": "kw-name",
    "group": "kw-group",
    "job_type": "kw-job",
    "tags": ["kw-a", "kw-b", "kw-c"],
    "notes": "kw notes",
}


def assert_layer(store: Path, run: tracker.Run, layer: str, tags: tuple[str, ...]) -> None:
    """The run, live and as stored after finish(), has every identity field from ``layer``."""
    expected = {
        "project": f"{layer}-project",
        "entity": f"{layer}-entity",
        "name": f"{layer}-name",
        "group": f"{layer}-group",
        "job_type": f"{layer}-job",
        "tags": tags,
        "notes": f"{layer} notes",
    }
    assert identity(run) == expected
    run.finish()
    assert stored_identity(store, run) == expected


def identity(run: tracker.Run) -> dict[str, object]:
    return {
        "project": run.project,
        "entity": run.entity,
        "name": run.name,
        "group": run.group,
        "job_type": run.job_type,
        "tags": tuple(run.tags),
        "notes": run.notes,
    }


def stored_identity(store: Path, run: tracker.Run) -> dict[str, object]:
    view = tracker.Api(dir=store).run(f"{run.project}/{run.id}")
    return {
        "project": view.project,
        "entity": view.entity,
        "name": view.name,
        "group": view.group,
        "job_type": view.job_type,
        "tags": tuple(view.tags),
        "notes": view.notes,
    }


# ---------------------------------------------------------------- the layers, one over the other


def test_defaults_without_any_layer(store: Path) -> None:
    """With nothing configured: project 'uncategorized', job_type 'train', no tags/group/entity/notes, offline."""
    run = tracker.init(dir=store)
    assert identity(run) == {
        "project": "uncategorized",
        "entity": None,
        "name": run.name,
        "group": None,
        "job_type": "train",
        "tags": (),
        "notes": None,
    }
    assert run.offline is True and run.disabled is False
    assert run.name  # a generated, non-empty name
    assert tracker.Settings().to_dict()["mode"] == "offline"


def test_settings_file_overrides_defaults(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every identity field of a flat-key settings file reaches the run and its stored record."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    run = tracker.init(dir=store)
    assert_layer(store, run, "file", ("file-a", "file-b"))


def test_settings_file_tracker_table(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A [tracker] table is read just like flat keys."""
    write_settings_file(
        tmp_path,
        monkeypatch,
        '[tracker]\nproject = "table-project"\nrun_group = "table-group"\nrun_tags = ["t1"]\n',
    )
    run = tracker.init(dir=store)
    assert (run.project, run.group, run.tags) == ("table-project", "table-group", ("t1",))


def test_settings_file_default_location_is_xdg(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TRACKER_SETTINGS_FILE the file is $XDG_CONFIG_HOME/tracker/settings.toml."""
    monkeypatch.delenv("TRACKER_SETTINGS_FILE")
    config_home = tmp_path / "xdg"
    (config_home / "tracker").mkdir(parents=True)
    (config_home / "tracker" / "settings.toml").write_text('project = "xdg-project"\n', encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    assert tracker.init(dir=store).project == "xdg-project"


def test_settings_file_sets_dir_and_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """root_dir and mode from the file decide where (and whether) the run is stored."""
    target = tmp_path / "from-file-dir"
    write_settings_file(tmp_path, monkeypatch, f'root_dir = "{target}"\nproject = "p"\n')
    run = tracker.init()
    run.finish()
    assert tracker.Api(dir=target).run(f"p/{run.id}").id == run.id
    assert not (Path.cwd() / "tracker-runs").exists()

    write_settings_file(tmp_path, monkeypatch, 'mode = "disabled"\n')
    disabled = tracker.init(dir=tmp_path / "unused")
    assert disabled.disabled is True
    assert not (tmp_path / "unused").exists()


def test_environment_overrides_settings_file(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each TRACKER_* variable beats the same setting in the file."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    for variable, value in ENV_VALUES.items():
        monkeypatch.setenv(variable, value)
    run = tracker.init(dir=store)
    assert_layer(store, run, "env", ("env-a", "env-b"))


def test_environment_only_overrides_what_it_sets(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers merge per setting: an unset variable leaves the file's value in place."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    monkeypatch.setenv("TRACKER_PROJECT", "env-project")
    monkeypatch.setenv("TRACKER_NOTES", "")  # empty means unset, as for WANDB_* variables
    run = tracker.init(dir=store)
    assert run.project == "env-project"
    assert run.group == "file-group"
    assert run.tags == ("file-a", "file-b")
    assert run.notes == "file notes"


@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "Settings"])
def test_settings_argument_overrides_environment(
    as_dict: bool, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """settings= (a dict or a Settings) beats both the environment and the file."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    for variable, value in ENV_VALUES.items():
        monkeypatch.setenv(variable, value)
    settings = dict(SETTINGS_VALUES) if as_dict else tracker.Settings(**SETTINGS_VALUES)
    run = tracker.init(dir=store, settings=settings)
    assert_layer(store, run, "settings", ("settings-a",))


def test_settings_argument_only_overrides_what_it_sets(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settings= holding one key leaves the environment's and file's other values in place."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    monkeypatch.setenv("TRACKER_RUN_GROUP", "env-group")
    run = tracker.init(dir=store, settings={"project": "settings-project"})
    assert (run.project, run.group, run.job_type) == ("settings-project", "env-group", "file-job")


@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "Settings"])
def test_keywords_override_settings_argument(
    as_dict: bool, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Explicit init() keywords beat settings=, the environment and the file."""
    write_settings_file(tmp_path, monkeypatch, FILE_TEXT)
    for variable, value in ENV_VALUES.items():
        monkeypatch.setenv(variable, value)
    settings = dict(SETTINGS_VALUES) if as_dict else tracker.Settings(**SETTINGS_VALUES)
    run = tracker.init(dir=store, settings=settings, **KEYWORD_VALUES)
    assert_layer(store, run, "kw", ("kw-a", "kw-b", "kw-c"))


def test_none_keyword_does_not_override(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyword passed as None means 'not given': the lower layers still apply."""
    monkeypatch.setenv("TRACKER_PROJECT", "env-project")
    run = tracker.init(dir=store, project=None, settings={"run_group": "g"}, group=None)
    assert (run.project, run.group) == ("env-project", "g")


def test_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """root_dir: file < TRACKER_DIR < settings= < dir= decides which store holds the run."""
    dirs = {layer: tmp_path / layer for layer in ("file", "env", "settings", "kw")}
    write_settings_file(tmp_path, monkeypatch, f'root_dir = "{dirs["file"]}"\nproject = "p"\n')
    monkeypatch.setenv("TRACKER_DIR", str(dirs["env"]))

    def lands_in(run: tracker.Run) -> set[str]:
        run.finish()
        return {layer for layer, path in dirs.items() if (path / "tracker-runs" / "projects" / "p" / run.id).is_dir()}

    assert lands_in(tracker.init()) == {"env"}
    assert lands_in(tracker.init(settings={"root_dir": str(dirs["settings"])})) == {"settings"}
    assert lands_in(tracker.init(settings={"root_dir": str(dirs["settings"])}, dir=dirs["kw"])) == {"kw"}
    monkeypatch.delenv("TRACKER_DIR")
    assert lands_in(tracker.init()) == {"file"}


def test_mode_precedence(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mode: file < TRACKER_MODE < settings= < mode=."""
    write_settings_file(tmp_path, monkeypatch, 'mode = "disabled"\n')
    run = tracker.init(dir=store)
    assert run.disabled is True
    run.finish()

    monkeypatch.setenv("TRACKER_MODE", "offline")
    run = tracker.init(dir=store)
    assert (run.disabled, run.offline) == (False, True)
    run.finish()

    run = tracker.init(dir=store, settings=tracker.Settings(mode="disabled"))
    assert run.disabled is True
    run.finish()

    run = tracker.init(dir=store, settings={"mode": "disabled"}, mode="offline")
    assert (run.disabled, run.offline) == (False, True)
    run.finish()


def test_environment_tags_are_comma_separated(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_TAGS splits on commas, strips blanks, drops empty items and duplicates."""
    monkeypatch.setenv("TRACKER_TAGS", " alpha, beta ,,gamma,alpha ")
    run = tracker.init(dir=store, project="p")
    assert run.tags == ("alpha", "beta", "gamma")
    run.finish()
    assert tracker.Api(dir=store).run(f"p/{run.id}").tags == ("alpha", "beta", "gamma")


def test_keyword_tag_string_is_not_split(store: Path) -> None:
    """Only the environment splits on commas: tags='a,b' as a keyword is one tag."""
    assert tracker.init(dir=store, tags="a,b").tags == ("a,b",)


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_tracker_disabled_gives_disabled_run(value: str, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_DISABLED=true (like WANDB_DISABLED) makes init() return a disabled run that writes nothing."""
    monkeypatch.setenv("TRACKER_DISABLED", value)
    run = tracker.init(dir=store, project="p")
    assert run.disabled is True
    run.log({"x": 1})
    run.config["a"] = 1
    run.finish()
    assert_nothing_written(store)


def test_tracker_disabled_false_is_a_normal_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_DISABLED=false leaves the mode alone."""
    monkeypatch.setenv("TRACKER_DISABLED", "false")
    run = tracker.init(dir=store, project="p")
    assert run.disabled is False
    assert (_projects(store) / "p" / run.id).is_dir()


def test_tracker_disabled_beats_tracker_mode(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_DISABLED=true wins over TRACKER_MODE=offline, as WANDB_DISABLED does over WANDB_MODE."""
    monkeypatch.setenv("TRACKER_MODE", "offline")
    monkeypatch.setenv("TRACKER_DISABLED", "true")
    assert tracker.init(dir=store).disabled is True


def test_environment_mode_dryrun_alias(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_MODE accepts the documented 'dryrun' alias for offline."""
    monkeypatch.setenv("TRACKER_MODE", "dryrun")
    run = tracker.init(dir=store)
    assert (run.offline, run.disabled) == (True, False)


# ---------------------------------------------------------------- TRACKER_RUN_ID / TRACKER_RESUME


def test_tracker_run_id_names_the_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RUN_ID is the id of the new run, as WANDB_RUN_ID is."""
    monkeypatch.setenv("TRACKER_RUN_ID", "envrun01")
    run = tracker.init(dir=store, project="p")
    assert run.id == "envrun01"
    run.finish()
    assert tracker.Api(dir=store).run("p/envrun01").state == "finished"


def test_keyword_id_beats_tracker_run_id(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """id= wins over TRACKER_RUN_ID."""
    monkeypatch.setenv("TRACKER_RUN_ID", "envrun01")
    assert tracker.init(dir=store, project="p", id="kwrun01").id == "kwrun01"


def test_tracker_resume_allow_resumes_existing_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RUN_ID + TRACKER_RESUME=allow continue an existing run (step counter, summary, config)."""
    first = tracker.init(dir=store, project="p", id="resume01", config={"lr": 0.1})
    for value in range(3):
        first.log({"loss": value})
    first.finish()

    monkeypatch.setenv("TRACKER_RUN_ID", "resume01")
    monkeypatch.setenv("TRACKER_RESUME", "allow")
    second = tracker.init(dir=store, project="p")
    assert second.id == "resume01"
    assert second.resumed is True
    assert second.starting_step == 3
    assert second.step == 3
    assert second.config["lr"] == 0.1
    assert second.summary["loss"] == 2
    second.log({"loss": 10})
    second.finish()
    history = tracker.Api(dir=store).run("p/resume01").history()
    assert [row["_step"] for row in history] == [0, 1, 2, 3]
    assert history[-1]["loss"] == 10


def test_tracker_resume_allow_starts_missing_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RESUME=allow with an id that does not exist yet starts it fresh."""
    monkeypatch.setenv("TRACKER_RUN_ID", "fresh001")
    monkeypatch.setenv("TRACKER_RESUME", "allow")
    run = tracker.init(dir=store, project="p")
    assert (run.id, run.resumed, run.starting_step) == ("fresh001", False, 0)


def test_tracker_resume_must_without_run_fails(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RESUME=must with an unknown TRACKER_RUN_ID raises and creates no run."""
    monkeypatch.setenv("TRACKER_RUN_ID", "missing1")
    monkeypatch.setenv("TRACKER_RESUME", "must")
    with pytest.raises(tracker.UsageError, match="missing1"):
        tracker.init(dir=store, project="p")
    assert not (_projects(store) / "p" / "missing1").exists()


def test_tracker_resume_never_with_existing_run_fails(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RESUME=never with an existing TRACKER_RUN_ID raises and leaves the run untouched."""
    run = tracker.init(dir=store, project="p", id="exists01")
    run.log({"x": 1})
    run.finish()
    monkeypatch.setenv("TRACKER_RUN_ID", "exists01")
    monkeypatch.setenv("TRACKER_RESUME", "never")
    with pytest.raises(tracker.UsageError, match="exists01"):
        tracker.init(dir=store, project="p")
    view = tracker.Api(dir=store).run("p/exists01")
    assert view.state == "finished"
    assert [row["x"] for row in view.history()] == [1]


def test_keyword_resume_beats_tracker_resume(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """resume= wins over TRACKER_RESUME."""
    tracker.init(dir=store, project="p", id="exists02").finish()
    monkeypatch.setenv("TRACKER_RESUME", "never")
    run = tracker.init(dir=store, project="p", id="exists02", resume="allow")
    assert run.resumed is True


def test_tracker_resume_auto_resumes_crashed_run(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RESUME=auto (no id) picks up the previous run in this dir that died without finishing."""
    child = run_python(
        f"""
        import os, tracker
        run = tracker.init(dir={str(store)!r}, project="p")
        run.log({{"loss": 1.0}})
        run.log({{"loss": 0.5}})
        print(run.id, flush=True)
        os._exit(3)
        """,
        check=False,
    )
    assert child.returncode == 3, child.stderr
    crashed_id = child.stdout.strip()
    assert tracker.Api(dir=store).run(f"p/{crashed_id}").state == "crashed"

    monkeypatch.setenv("TRACKER_RESUME", "auto")
    run = tracker.init(dir=store, project="p")
    assert run.id == crashed_id
    assert run.resumed is True
    assert run.starting_step == 2


def test_tracker_resume_auto_after_clean_finish_starts_new(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRACKER_RESUME=auto does not resume a run that finished cleanly."""
    previous = tracker.init(dir=store, project="p")
    previous.finish()
    monkeypatch.setenv("TRACKER_RESUME", "auto")
    run = tracker.init(dir=store, project="p")
    assert run.id != previous.id
    assert run.resumed is False


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRACKER_MODE", "bogus"),
        ("TRACKER_PROJECT", "a/b"),
        ("TRACKER_ENTITY", "team#1"),
        ("TRACKER_RUN_ID", "run?1"),
        ("TRACKER_RESUME", "sometimes"),
        ("TRACKER_FORCE", "maybe"),
        ("TRACKER_SAVE_CODE", "perhaps"),
        ("TRACKER_ANONYMOUS", "always"),
        ("TRACKER_TAGS", "ok," + "x" * 65),
        ("TRACKER_JOB_TYPE", "   "),
        ("TRACKER_DISABLED", "sure"),
        ("TRACKER_BASE_URL", "ftp://example.org"),
        ("TRACKER_PREEMPTION_SIGNALS", "SIGNOPE"),
    ],
)
def test_bad_environment_value_names_the_variable(
    variable: str, value: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad TRACKER_* value is a UsageError that names the variable, and nothing is written."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert variable in str(caught.value)
    assert_nothing_written(store)


def test_unknown_key_in_settings_dict(store: Path) -> None:
    """settings={'unknown': ...} is a UsageError naming the key; nothing written."""
    with pytest.raises(tracker.UsageError, match="projekt"):
        tracker.init(dir=store, settings={"projekt": "typo"})
    assert_nothing_written(store)


def test_unknown_key_in_settings_object() -> None:
    """Settings(unknown=...) is a UsageError naming the key."""
    with pytest.raises(tracker.UsageError, match="run_nmae"):
        tracker.Settings(run_nmae="x")


def test_bad_value_in_settings_object_names_setting() -> None:
    """Settings validates values at construction, naming the setting and the bad character."""
    with pytest.raises(tracker.UsageError) as caught:
        tracker.Settings(project="a:b")
    assert "project" in str(caught.value)
    assert "':'" in str(caught.value)
    with pytest.raises(tracker.UsageError, match="mode"):
        tracker.Settings(mode="sometimes")


def test_settings_object_reads_back() -> None:
    """Settings exposes given values, defaults for the rest, and only given values count as set."""
    settings = tracker.Settings(project="demo", mode="dryrun", run_tags="solo")
    assert settings.project == "demo"
    assert settings.mode == "offline"
    assert settings.run_tags == ("solo",)
    assert settings.run_job_type == "train"
    assert settings.is_set("project") and not settings.is_set("run_group")
    with pytest.raises(AttributeError):
        _ = settings.no_such_setting


def test_unknown_key_in_settings_file(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown key in the settings file is a UsageError naming the key and the file."""
    path = write_settings_file(tmp_path, monkeypatch, 'project = "ok"\nflavour = "vanilla"\n')
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert "flavour" in str(caught.value)
    assert str(path) in str(caught.value)
    assert_nothing_written(store)


def test_unknown_key_in_settings_file_table(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown keys inside the [tracker] table are rejected too."""
    write_settings_file(tmp_path, monkeypatch, '[tracker]\nprojcet = "typo"\n')
    with pytest.raises(tracker.UsageError, match="projcet"):
        tracker.init(dir=store)
    assert_nothing_written(store)


@pytest.mark.parametrize(
    ("setting", "toml"),
    [("mode", 'mode = "bogus"'), ("project", 'project = "a%b"'), ("run_tags", 'run_tags = ["ok", ""]')],
)
def test_bad_value_in_settings_file(
    setting: str, toml: str, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad value in the file names the file and the setting."""
    path = write_settings_file(tmp_path, monkeypatch, toml + "\n")
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert str(path) in str(caught.value)
    assert setting in str(caught.value)
    assert_nothing_written(store)


def test_invalid_toml_names_the_file(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A settings file that is not TOML is a UsageError naming the file."""
    path = write_settings_file(tmp_path, monkeypatch, "project = \n[[[ not toml")
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert str(path) in str(caught.value)
    assert "TOML" in str(caught.value)
    assert_nothing_written(store)


def test_tracker_table_that_is_not_a_table(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tracker = 3 in the file is an error, not silently ignored."""
    path = write_settings_file(tmp_path, monkeypatch, "tracker = 3\n")
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert str(path) in str(caught.value)
    assert_nothing_written(store)


def test_unreadable_settings_file_is_an_error(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A settings path that exists but cannot be read (a directory) is a UsageError naming it."""
    path = tmp_path / "settings-dir"
    path.mkdir()
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(path))
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store)
    assert str(path) in str(caught.value)
    assert_nothing_written(store)


def test_missing_settings_file_is_fine(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A settings file that does not exist is simply an empty layer."""
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(tmp_path / "absent" / "settings.toml"))
    assert tracker.init(dir=store).project == "uncategorized"


@pytest.mark.parametrize("settings", [42, "project=x", ["project"], 1.5, object()])
def test_settings_of_wrong_type(settings: object, store: Path) -> None:
    """settings= other than a Settings, a mapping or None is a UsageError (also a ValueError)."""
    with pytest.raises(tracker.UsageError, match="settings") as caught:
        tracker.init(dir=store, settings=settings)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert_nothing_written(store)


def test_bad_value_in_settings_dict_names_key(store: Path) -> None:
    """settings={'run_job_type': ''} reports the bad setting; nothing written."""
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, settings={"run_job_type": ""})
    assert "run_job_type" in str(caught.value)
    assert_nothing_written(store)
