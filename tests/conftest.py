"""Shared fixtures: every test gets an isolated store, a clean TRACKER_* environment and no live runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.train_app import PROJECT, App
from tracker import _process

SERVICE_MARKERS = ("slurm", "postgres", "browser")
# read before the per-test fixture clears every TRACKER_* variable (scripts/test.sh sets it)
POSTGRES_URL = os.environ.get("TRACKER_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No TRACKER_* (or WANDB_*) leaks in from the developer's shell; the cwd is a fresh directory."""
    for variable in list(os.environ):
        if variable.startswith(("TRACKER_", "WANDB_")):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("TRACKER_SETTINGS_FILE", str(tmp_path / "no-settings.toml"))
    monkeypatch.setenv("TRACKER_CREDENTIALS_FILE", str(tmp_path / "no-credentials.json"))
    monkeypatch.setenv("TRACKER_SILENT", "true")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    _process.finish_all(0)


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


def pid_of_logging_job(app: App, rows: int = 5) -> int:
    """The pid of the one job of a sweep ``app`` started, once its run has logged ``rows`` rows."""
    journals = app.store / "tracker-runs" / "projects" / PROJECT

    def logging() -> bool:
        return any(path.read_bytes().count(b"\n") >= rows for path in journals.glob("*/history.jsonl"))

    wait_for(logging, "the job to start logging")
    (journal,) = journals.glob("*/history.jsonl")
    return int(orjson.loads((journal.parent / "metadata.json").read_bytes())["pid"])


is_root = os.geteuid() == 0
needs_root = pytest.mark.skipif(not is_root, reason="needs root (a tmpfs mount, or a second uid)")


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 1 MiB tmpfs of its own, to fill up (root only; unmounted afterwards).

    Runs on it record no git state: that comes from a background thread whenever `git status` ends, a
    writer whose moment a full-disk test cannot choose."""
    if not is_root:
        pytest.skip("needs root to mount a tmpfs")
    monkeypatch.setenv("TRACKER_DISABLE_GIT", "true")
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


TRACKER = str(Path(sys.executable).with_name("tracker"))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """A real `tracker server` in a subprocess, on its own port, data directory and database."""

    def __init__(self, data: Path, db: str | None, *extra: str) -> None:
        self.data, self.db, self.extra = data, db, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data / "server.log"

    def _store_args(self) -> list[str]:
        return ["--data", str(self.data), *(["--db", self.db] if self.db else [])]

    def start(self) -> LiveServer:
        import urllib.request

        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [TRACKER, "server", "--port", str(self.port), *self._store_args(), *self.extra],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=5) as answer:
                    return answer.status == 200
            except OSError:
                return False

        try:
            wait_for(healthy, f"the server at {self.url}", timeout=120)
        except BaseException:
            self.stop(9)  # never leave a server behind a failed start
            raise
        return self

    def stop(self, sig: int = 15) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=120)
        self.process = None

    def admin(self, *args: str) -> str:
        """A `tracker server ...` administration command on this server's store; its stdout."""
        result = subprocess.run(
            [TRACKER, "server", *args, *self._store_args()], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"tracker server {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def user(self, name: str, *flags: str) -> str:
        """A new user's API key."""
        return self.admin("user", "add", name, *flags).strip().splitlines()[-1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the server's own SQLite) or the URL of a fresh PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    base = POSTGRES_URL
    if not base:
        pytest.skip("no PostgreSQL (scripts/postgres.sh start, then set TRACKER_TEST_POSTGRES_URL)")
    import uuid

    import psycopg

    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(tmp_path: Path, database: str | None) -> Iterator[LiveServer]:
    """A running server (SQLite, and PostgreSQL under the postgres marker) with a short heartbeat timeout."""
    live = LiveServer(tmp_path / "server", database, "--heartbeat-timeout", "3", "--allow-anonymous")
    live.start()
    try:
        yield live
    finally:
        live.stop()
