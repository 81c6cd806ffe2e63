"""wandb's environment names as fallbacks, wandb-only settings, and the small wandb surface ported scripts use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracker
from tests.conftest import assert_nothing_written
from tracker import _settings

# every TRACKER_* variable with a WANDB_* counterpart: (setting, a value given through WANDB_*, how it reads)
FALLBACKS = {
    "MODE": ("mode", "disabled", "disabled"),
    "PROJECT": ("project", "wproj", "wproj"),
    "ENTITY": ("entity", "wteam", "wteam"),
    "DIR": ("root_dir", "/tmp/wandb-dir", "/tmp/wandb-dir"),
    "RUN_ID": ("run_id", "wid123", "wid123"),
    "NAME": ("run_name", "wname", "wname"),
    "RUN_GROUP": ("run_group", "wgroup", "wgroup"),
    "JOB_TYPE": ("run_job_type", "eval", "eval"),
    "TAGS": ("run_tags", "a,b", ("a", "b")),
    "NOTES": ("run_notes", "some notes", "some notes"),
    "RESUME": ("resume", "allow", "allow"),
    "FORCE": ("force", "true", True),
    "SILENT": ("silent", "false", False),
    "SAVE_CODE": ("save_code", "true", True),
    "DISABLE_GIT": ("disable_git", "true", True),
    "ANONYMOUS": ("anonymous", "allow", "allow"),
    "BASE_URL": ("base_url", "http://127.0.0.1:1/", "http://127.0.0.1:1"),
    "API_KEY": ("api_key", "k" * 40, "k" * 40),
    "CONSOLE": ("console", "off", "off"),
}


@pytest.fixture(autouse=True)
def no_setup_defaults():
    yield
    _settings.process_defaults = _settings.Settings()


def test_the_table_covers_every_counterpart() -> None:
    """Every TRACKER_* variable except the tracker's own has a WANDB_* fallback, and this test names each one."""
    with_counterpart = {v.removeprefix("TRACKER_") for v in _settings.ENVIRONMENT if v not in _settings._TRACKER_ONLY}
    assert with_counterpart == set(FALLBACKS)


@pytest.mark.parametrize("suffix", sorted(FALLBACKS))
def test_wandb_variable_is_read_when_tracker_one_is_absent(suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    setting, given, expected = FALLBACKS[suffix]
    monkeypatch.delenv(f"TRACKER_{suffix}", raising=False)
    monkeypatch.setenv(f"WANDB_{suffix}", given)
    assert getattr(_settings.from_environment(dict(os.environ)), setting) == expected


@pytest.mark.parametrize("suffix", ["PROJECT", "MODE", "RUN_ID", "NAME"])
def test_tracker_variable_wins(suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"PROJECT": ("tp", "wp"), "MODE": ("offline", "disabled"), "RUN_ID": ("tid", "wid"), "NAME": ("t", "w")}
    mine, theirs = values[suffix]
    environ = {f"TRACKER_{suffix}": mine, f"WANDB_{suffix}": theirs}
    setting = FALLBACKS[suffix][0]
    assert getattr(_settings.from_environment(environ), setting) == mine


def test_wandb_disabled_and_its_precedence() -> None:
    assert _settings.from_environment({"WANDB_DISABLED": "true"}).mode == "disabled"
    assert _settings.from_environment({"WANDB_DISABLED": "true", "WANDB_MODE": "offline"}).mode == "disabled"
    # a TRACKER_* choice is not overridden by a WANDB_* one
    assert _settings.from_environment({"WANDB_DISABLED": "true", "TRACKER_MODE": "offline"}).mode == "offline"


def test_bad_wandb_value_names_the_variable() -> None:
    with pytest.raises(tracker.UsageError, match="WANDB_MODE"):
        _settings.from_environment({"WANDB_MODE": "sideways"})


def test_ported_script_driven_by_wandb_mode_and_project(tmp_path: Path) -> None:
    """A wandb script run with WANDB_PROJECT/WANDB_DIR lands where they say; WANDB_MODE=disabled writes nothing."""
    script = tmp_path / "ported.py"
    script.write_text(
        "import tracker as wandb\n"
        "run = wandb.init(config={'lr': 0.1}, settings=wandb.Settings(start_method='thread'))\n"
        "for step in range(3):\n"
        "    wandb.log({'loss': 1.0 / (step + 1)})\n"
        "print(run.project, run.id, run.status)\n"
        "wandb.finish()\n"
        "print(run.status, run.url, run.get_url())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "WANDB_"))}
    env |= {"TRACKER_SETTINGS_FILE": str(tmp_path / "none.toml"), "HOME": str(tmp_path)}
    store = tmp_path / "store"
    online = {**env, "WANDB_PROJECT": "ported", "WANDB_DIR": str(store), "WANDB_RUN_ID": "port01"}
    done = subprocess.run([sys.executable, str(script)], env=online, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "ported port01 running"
    assert done.stdout.splitlines()[1] == "finished None None"
    assert "start_method" in done.stderr and "ignored" in done.stderr
    run = tracker.Api(dir=store).run("ported/port01")
    assert run.state == "finished" and [row["loss"] for row in run.scan_history()] == [1.0, 0.5, 1.0 / 3]

    quiet = tmp_path / "quiet"
    disabled = {**env, "WANDB_MODE": "disabled", "WANDB_DIR": str(quiet)}
    done = subprocess.run([sys.executable, str(script)], env=disabled, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not quiet.exists() or assert_nothing_written(quiet) is None


def test_wandb_only_settings_warn_once_naming_them(capsys: pytest.CaptureFixture[str]) -> None:
    settings = tracker.Settings(start_method="thread", _disable_stats=True, project="p")
    assert settings.project == "p"
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "_disable_stats, start_method" in err
    with pytest.raises(tracker.UsageError, match="no_such_setting is not a setting"):
        tracker.Settings(no_such_setting=1)
    with pytest.raises(tracker.UsageError, match="settings: bogus"):
        tracker.init(settings={"bogus": 1, "start_method": "fork"})


def test_run_status_start_time_and_url(store: Path) -> None:
    run = tracker.init(dir=store, project="p")
    assert run.status == "running" and run.url is None and run.get_url() is None
    assert abs(run.start_time - time.time()) < 600
    run.finish(exit_code=3)
    assert run.status == "failed"


def test_generate_id() -> None:
    ids = {tracker.util.generate_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 8 and i.isalnum() for i in ids)
    assert len(tracker.util.generate_id(length=16)) == 16
    with pytest.raises(tracker.UsageError, match="length=0"):
        tracker.util.generate_id(0)


def test_setup_gives_defaults_below_keywords(store: Path) -> None:
    tracker.setup(settings={"project": "from-setup"})
    assert tracker.init(dir=store).project == "from-setup"
    tracker.teardown()
    assert tracker.run is None
    assert tracker.init(dir=store, project="kw").project == "kw"


def test_login_checks_with_the_server(server, monkeypatch: pytest.MonkeyPatch) -> None:
    """login() stores a key the server accepts and refuses one it does not; WANDB_BASE_URL names the server."""
    key = server.user("alice")
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    assert tracker.login() is False
    with pytest.raises(tracker.Error, match="refused"):
        tracker.login(key="wrong-key")
    assert tracker.login(key=key) is True
    assert tracker.login() is True


def test_import_tracker_loads_no_integration() -> None:
    """`import tracker` stays cheap: no integration module and none of the libraries they wrap."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tracker"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "tracker" in imported
    unwanted = ("tracker.integrations", "tracker.util", "tensorboardX", "gymnasium", "IPython", "absl", "argparse")
    assert not {name for name in imported if name.startswith(unwanted)}
