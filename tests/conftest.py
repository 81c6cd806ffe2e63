"""Shared fixtures: every test gets an isolated store, a clean TRACKER_* environment and no live runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tracker
from tests.train_app import App
from tracker import _init, _process

SERVICE_MARKERS = ("slurm", "postgres", "browser")


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No TRACKER_* leaks in from the developer's shell; the cwd is a fresh directory."""
    for variable in list(os.environ):
        if variable.startswith("TRACKER_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(tmp_path / "no-settings.toml"))
    monkeypatch.setenv("TRACKER_SILENT", "true")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    _process.finish_all(0)
    tracker.run = None
    _init._warned_online = False


@pytest.fixture
def app(tmp_path: Path) -> App:
    """The example train.py, run in subprocesses with its store and outputs under tmp_path."""
    return App(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The directory passed as init(dir=...) and Api(dir=...)."""
    path = tmp_path / "store"
    path.mkdir()
    return path


def assert_nothing_written(store: Path) -> None:
    """No project directory and no file at all appeared under the store."""
    projects = store / "tracker-runs" / "projects"
    assert not projects.exists() or list(projects.iterdir()) == []
    files = [os.path.join(root, name) for root, _, names in os.walk(store) for name in names]
    assert files == []


def run_python(
    code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh interpreter with the test's environment (plus ``env``)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"child failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """With TRACKER_REQUIRE_SERVICES=1 (CI), a skipped service test is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("TRACKER_REQUIRE_SERVICES") == "1":
        markers = [name for name in SERVICE_MARKERS if item.get_closest_marker(name)]
        if markers:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid}: a {'/'.join(markers)} test was skipped, and CI requires it to run"
