"""Shared fixtures: every test gets an isolated store, a clean TRACKER_* environment and no live runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
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


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    """Poll ``condition()`` until it holds; fail naming ``what`` after ``timeout`` seconds (never a timing assert)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def wait_for_file(path: Path, timeout: float = 120.0) -> None:
    wait_for(path.exists, str(path), timeout)


is_root = os.geteuid() == 0
needs_root = pytest.mark.skipif(not is_root, reason="needs root (a tmpfs mount, or a second uid)")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of its own, to fill up (root only; unmounted afterwards)."""
    if not is_root:
        pytest.skip("needs root to mount a tmpfs")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` with one file until ENOSPC, then free ``leave`` bytes; returns the filler (delete it to free)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


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
