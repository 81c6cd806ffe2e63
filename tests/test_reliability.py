"""Regression tests of the reliability review: races, full disks, rejected calls, signals, hostile directories.

Concurrency is staged between real processes with marker files (never with sleeps): a child patches
one internal seam only to pause at the exact moment the race needs, then the real code runs.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import tracker
from tests.conftest import fill, needs_root, run_python, wait_for_file
from tracker import _index, _layout, _logs
from tracker._lock import is_held

TRACKER = str(Path(sys.executable).with_name("tracker"))


def run_dir(store: Path, run_id: str, project: str = "p") -> Path:
    return store / "tracker-runs" / "projects" / project / run_id


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under a directory with its bytes (lock excluded: its holder info is rewritten by each holder)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "lock"
    }


def start_paused_init(store: Path, markers: Path, init_args: str) -> subprocess.Popen[str]:
    """A process whose init() stops right before taking the run's lock (it has made the run directory by then),
    says so with ``markers/paused``, and goes on once ``markers/go`` exists."""
    code = textwrap.dedent(f"""
        import os, time, tracker
        from tracker import _lock
        real = _lock.RunLock.acquire.__func__
        def paused(cls, *args, **kwargs):
            open({str(markers / "paused")!r}, "w").close()
            while not os.path.exists({str(markers / "go")!r}):
                time.sleep(0.01)
            return real(cls, *args, **kwargs)
        _lock.RunLock.acquire = classmethod(paused)
        try:
            tracker.init(project="p", dir={str(store)!r}, {init_args})
        except tracker.UsageError as error:
            print("refused:", error, flush=True)
        else:
            print("started", flush=True)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# ---------------------------------------------------------------------------------------------- 1. races
def test_the_process_that_loses_the_lock_never_removes_the_winners_run(store, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    loser = start_paused_init(store, markers, 'id="shared", resume="allow"')
    wait_for_file(markers / "paused")  # the loser made the directory and is about to lock it
    assert run_dir(store, "shared").is_dir()
    winner = tracker.init(project="p", dir=store, id="shared", resume="allow")
    for step in range(5):
        winner.log({"x": step})
    (markers / "go").touch()
    output, _ = loser.communicate(timeout=120)
    assert "refused:" in output and "in use" in output, output
    for step in range(5, 10):
        winner.log({"x": step})
    winner.finish()
    view = tracker.Api(store).run("p/shared")
    assert view.state == "finished" and [row["x"] for row in view.history()] == list(range(10))


def test_the_new_or_resume_decision_is_made_under_the_lock(store, tmp_path):
    """resume='never' in a second process that looked before the first one finished: it must refuse."""
    markers = tmp_path / "markers"
    markers.mkdir()
    second = start_paused_init(store, markers, 'id="once", resume="never"')
    wait_for_file(markers / "paused")
    first = tracker.init(project="p", dir=store, id="once", resume="never")
    for step in range(5):
        first.log({"x": step})
    first.finish()
    (markers / "go").touch()
    output, _ = second.communicate(timeout=120)
    assert "refused:" in output and "resume='never'" in output and "already exists" in output, output
    assert [row["_step"] for row in tracker.Api(store).run("p/once").history()] == list(range(5))


# ---------------------------------------------------------------------------------------------- 2. full disk
def test_a_failed_write_on_a_full_disk_is_cut_off_before_the_next_log(small_disk):
    run = tracker.init(project="p", dir=small_disk, id="full")
    run.log({"x": 0})
    filler = fill(small_disk, leave=8192)
    big = "y" * 200_000  # more than is free: the write is partial, then fails
    with pytest.raises(tracker.StorageError) as raised:
        run.log({"x": 1, "big": big})
    assert raised.value.errno == errno.ENOSPC and "history.jsonl" in str(raised.value)
    assert isinstance(raised.value, OSError) and "intact" in str(raised.value)
    assert run.step == 1 and "big" not in run.summary
    filler.unlink()
    run.log({"x": 2})
    run.finish()
    view = tracker.Api(small_disk).run("p/full")
    assert [(row["_step"], row["x"]) for row in view.history()] == [(0, 0), (1, 2)]
    assert view.summary["x"] == 2 and "big" not in view.summary


def test_a_failed_atomic_write_leaves_no_temp_file_and_the_old_file(small_disk):
    run = tracker.init(project="p", dir=small_disk, id="cfg", config={"a": 1})
    config_before = (run_dir(small_disk, "cfg") / "config.json").read_bytes()
    filler = fill(small_disk)
    with pytest.raises(tracker.StorageError, match=r"config\.json"):
        run.config.update({"b": "z" * 100_000})
    assert not list(run_dir(small_disk, "cfg").glob("*.tmp"))
    assert (run_dir(small_disk, "cfg") / "config.json").read_bytes() == config_before
    filler.unlink()
    run.finish()


def test_finish_on_a_full_disk_raises_storage_error_and_releases_the_lock(small_disk):
    run = tracker.init(project="p", dir=small_disk, id="fin")
    for step in range(3):
        run.log({"x": step})
    filler = fill(small_disk)
    with pytest.raises(tracker.StorageError, match="finish\\(\\): run fin could not write") as raised:
        run.finish()
    assert "every row log() stored is intact" in str(raised.value).lower()
    assert not is_held(str(run_dir(small_disk, "fin") / "lock"))
    assert tracker.run is None
    view = tracker.Api(small_disk).run("p/fin")
    assert view.state in ("finished", "crashed") and [row["x"] for row in view.history()] == [0, 1, 2]
    filler.unlink()
    again = tracker.init(project="p", dir=small_disk, id="fin", resume="allow")
    assert again.starting_step == 3
    again.finish()


def test_a_failed_resume_on_a_full_disk_leaves_the_run_as_it_was(small_disk):
    first = tracker.init(project="p", dir=small_disk, id="res", config={"a": 1})
    first.log({"x": 1})
    first.finish()
    before = snapshot(run_dir(small_disk, "res"))
    filler = fill(small_disk)
    with pytest.raises(tracker.StorageError):
        tracker.init(project="p", dir=small_disk, id="res", resume="allow", config={"a": 2}, allow_val_change=True)
    assert snapshot(run_dir(small_disk, "res")) == before
    assert tracker.Api(small_disk).run("p/res").state == "finished"
    filler.unlink()


# ---------------------------------------------------------------------------------------------- 3. rejected log()
def test_a_rejected_log_changes_nothing(store):
    run = tracker.init(project="p", dir=store, id="rej")
    run.log({"a": 1})
    with pytest.raises(tracker.UsageError, match="too large"):
        run.log({"a": 2}, step=2**80)
    with pytest.raises(tracker.UsageError, match="'bad'"):
        run.log({"a": 3, "bad": object()}, step=1000)
    with pytest.raises(TypeError, match="must be an int"):
        run.log({"a": 4}, step=2.5)
    assert run.step == 1 and run.summary["a"] == 1
    run.log({"a": 5})
    run.finish()
    assert [(row["_step"], row["a"]) for row in tracker.Api(store).run("p/rej").history()] == [(0, 1), (1, 5)]


def test_numpy_integer_steps_are_accepted(store):
    numpy = pytest.importorskip("numpy")
    run = tracker.init(project="p", dir=store, id="np")
    run.log({"a": 1}, step=numpy.int64(7))
    assert run.step == 7
    run.finish()


# ---------------------------------------------------------------------------------------------- 4. signals
BOMB = """
import os, signal, sys, tracker
class Bomb:
    '''A value whose first float() conversion once its row is in the journal (the summary's) sends SIGTERM.'''
    fired = False
    def __init__(self, value):
        self.value = value
    def tolist(self):
        return self.value
    def __float__(self):
        with open(os.path.join(os.path.dirname(run.dir), "history.jsonl"), "rb") as journal:
            written = b'"x":7' in journal.read()
        if written and not Bomb.fired:
            Bomb.fired = True
            os.kill(os.getpid(), signal.SIGTERM)
        return float(self.value)
run = tracker.init(project="p", dir=sys.argv[1], id="bomb")
run.define_metric("x", summary="max")
for step in range(3):
    run.log({"x": step})
run.log({"x": Bomb(7)})
print("log returned", flush=True)
import time; time.sleep(60)
"""


def test_a_signal_inside_log_waits_until_row_and_summary_agree(store):
    result = subprocess.run(
        [sys.executable, "-c", BOMB, str(store)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert "log returned" not in result.stdout  # the deferred signal ended the process as log() returned
    view = tracker.Api(store).run("p/bomb")
    rows = view.history()
    assert view.state == "preempted" and [row["x"] for row in rows] == [0, 1, 2, 7]
    stored = orjson.loads((run_dir(store, "bomb") / "summary.json").read_bytes())
    assert stored["x"] == 7 and stored["_step"] == 3


# ---------------------------------------------------------------------------------------------- 5. failed resume
def test_a_failed_resume_leaves_the_store_exactly_as_it_was(store):
    first = tracker.init(project="p", dir=store, id="keep", config={"lr": 0.1})
    first.log({"x": 1})
    first.finish()
    before = snapshot(run_dir(store, "keep"))
    with pytest.raises(tracker.UsageError, match="run_metadata"):
        tracker.init(project="p", dir=store, id="keep", resume="allow", settings={"run_metadata": {"x": object()}})
    assert snapshot(run_dir(store, "keep")) == before
    view = tracker.Api(store).run("p/keep")
    assert view.state == "finished" and view.config == {"lr": 0.1}
    assert orjson.loads((run_dir(store, "keep") / "run.json").read_bytes())["resume_count"] == 0


def test_a_failed_new_init_leaves_no_directory(store):
    with pytest.raises(tracker.UsageError, match="run_metadata"):
        tracker.init(project="p", dir=store, id="never", settings={"run_metadata": {"x": object()}})
    assert not run_dir(store, "never").exists()


def test_a_failed_replacing_init_puts_the_old_run_back(store):
    old = tracker.init(project="p", dir=store, id="rep")
    old.log({"x": 1})
    old.finish()
    before = snapshot(run_dir(store, "rep"))
    with pytest.raises(tracker.UsageError):
        tracker.init(project="p", dir=store, id="rep", settings={"run_metadata": {"x": object()}})
    assert snapshot(run_dir(store, "rep")) == before


# ---------------------------------------------------------------------------------------------- 6. shared temp dir
NOBODY = 65534
# Runs as root up to the imports (the interpreter lives under /root), then as another user.
AS_NOBODY = f"""
import os, sys, tempfile, orjson, structlog, structlog.processors, tracker, tracker._init
os.setgid({NOBODY})
os.setuid({NOBODY})
try:
    run = tracker.init(project="p", dir=sys.argv[1], **eval(sys.argv[2]))
except tracker.UsageError as error:
    print("refused:", error)
else:
    print("stored in", run.dir)
    run.finish()
"""


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A directory every user can reach (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="tracker-test-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def init_as_nobody(public_tmp: Path, **kwargs: object) -> str:
    """init() by another user whose dir= is not writable for them, with a shared sticky temp directory."""
    unwritable = public_tmp / "root-only"
    unwritable.mkdir(exist_ok=True, mode=0o755)
    result = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(unwritable), repr(kwargs)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "TMPDIR": str(public_tmp / "shared-tmp"),
            "TRACKER_SETTINGS_FILE": str(public_tmp / "no-settings.toml"),
            "TRACKER_CREDENTIALS_FILE": str(public_tmp / "no-credentials.json"),
        },
        cwd="/",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def shared_tmp(public_tmp: Path) -> Path:
    path = public_tmp / "shared-tmp"
    path.mkdir(exist_ok=True)
    os.chmod(path, 0o1777)
    return path


@needs_root
def test_the_temp_fallback_is_private_and_a_planted_one_is_refused(public_tmp):
    planted = shared_tmp(public_tmp) / f"tracker-{NOBODY}"
    # another user plants the victim's fallback as a symlink to a directory of theirs ...
    attacker_dir = public_tmp / "attacker"
    attacker_dir.mkdir(mode=0o777)
    os.chmod(attacker_dir, 0o777)
    os.symlink(attacker_dir, planted)
    output = init_as_nobody(public_tmp)
    assert "refused:" in output and "not a private directory" in output, output
    assert list(attacker_dir.iterdir()) == []
    # ... or as a directory they own
    planted.unlink()
    planted.mkdir()
    os.chmod(planted, 0o777)
    assert "not a private directory" in init_as_nobody(public_tmp)
    # with nothing planted, the fallback is created private to its user
    planted.rmdir()
    output = init_as_nobody(public_tmp)
    assert f"stored in {planted}" in output, output
    status = planted.stat()
    assert status.st_uid == NOBODY and stat.S_IMODE(status.st_mode) == 0o700


@needs_root
def test_a_resume_never_falls_back_to_a_temp_directory(public_tmp):
    temp = shared_tmp(public_tmp)
    output = init_as_nobody(public_tmp, id="requeued", resume="allow")
    assert "refused:" in output and "is not writable" in output and "resumes" in output, output
    assert list(temp.iterdir()) == []


# ---------------------------------------------------------------------------------------------- 7. identifiers
def test_an_id_read_back_from_the_resume_file_is_validated(store, tmp_path, capsys):
    root = store / "tracker-runs"
    root.mkdir()
    (root / "resume.json").write_bytes(orjson.dumps({"run_id": "../../../escaped", "project": "p"}))
    run = tracker.init(project="p", dir=store, resume="auto")
    assert Path(run.dir).resolve().is_relative_to(root.resolve())
    run.finish()
    assert "ignoring" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists()


def cli(store: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRACKER, "--dir", str(store), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
        check=False,
    )


def test_identifiers_on_the_command_line_are_validated(store, tmp_path):
    tracker.init(project="p", dir=store).finish()
    for args in (("runs", "--project", "../../x"), ("show", "../.."), ("show", "p/../../x"), ("history", "../p/x")):
        result = cli(store, *args)
        assert result.returncode == 2 and result.stderr.startswith("error: "), (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists() and not (store / "cache").exists()
    with pytest.raises(tracker.UsageError):
        tracker.Api(store).run("../..")


# ---------------------------------------------------------------------------------------------- 8. markup
def test_names_groups_and_values_are_shown_as_text_not_markup(store):
    for name in ("opt=[adam]", "[bold]loud[/bold]", "esc\x1b[2Jape"):
        with tracker.init(project="p", dir=store, name=name, group="+files=[/data/a.csv]", tags=["[red]t"]) as run:
            run.log({"note": "[link=x]click[/link]"})
    result = cli(store, "runs", "-m", "note")
    assert result.returncode == 0, result.stderr
    for text in ("opt=[adam]", "[bold]loud[/bold]", "[link=x]click[/link]", "esc\\x1b[2Jape"):
        assert text in result.stdout
    assert "\x1b" not in result.stdout
    sweep = cli(store, "sweep", "+files=[/data/a.csv]", "-m", "note")
    assert sweep.returncode == 0 and "+files=[/data/a.csv]" in sweep.stdout, sweep.stderr


def test_a_sweep_override_with_brackets_does_not_break_the_sweep_table(app):
    result = app("-m", "seed=0,1", "epochs=2", "+files=[/data/a.csv]")
    assert "+files=[/data/a.csv]" in result.stderr and "MarkupError" not in result.stderr
    assert len(app.runs()) == 2


# ---------------------------------------------------------------------------------------------- 9. bad records
def make_runs(store: Path, count: int = 3) -> list[str]:
    ids = []
    for index in range(count):
        with tracker.init(project="p", dir=store, id=f"good{index}") as run:
            run.log({"x": index})
            ids.append(run.id)
    return ids


def test_a_wrongly_typed_record_skips_one_line_not_the_store(store):
    make_runs(store)
    result = run_python(
        f"import os, signal, tracker\nrun = tracker.init(project='p', dir={str(store)!r}, id='typed')\n"
        "run.log({'x': 1})\nos.kill(os.getpid(), signal.SIGKILL)\n",
        check=False,
    )
    assert result.returncode == -signal.SIGKILL
    with open(run_dir(store, "typed") / "history.jsonl", "ab") as handle:
        handle.write(b'{"_step": "3", "x": 9}\n{"_event": "summary", "data": 5}\n{"_step": 4, "x": 4}\n')
    listing = cli(store, "runs", "-m", "x", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {row["id"]: row for row in orjson.loads(listing.stdout)}
    assert set(rows) == {"good0", "good1", "good2", "typed"} and rows["typed"]["metrics"]["x"] == 4
    assert "run p/typed" in listing.stderr and "2 bad record(s)" in listing.stderr and "line 2" in listing.stderr
    resumed = tracker.init(project="p", dir=store, id="typed", resume="allow")
    assert resumed.starting_step == 5
    resumed.finish()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / "run.json").write_bytes(b'{"id": "bad", "created'), id="truncated-run-json"),
        pytest.param(
            lambda d: (d / "run.json").write_bytes(
                orjson.dumps({**orjson.loads((d / "run.json").read_bytes()), "created_at": 17})
            ),
            id="int-created-at",
        ),
        pytest.param(lambda d: ((d / "run.json").unlink(), (d / "run.json").mkdir()), id="run-json-is-a-directory"),
    ],
)
def test_one_damaged_run_is_named_and_skipped(store, damage):
    make_runs(store)
    with tracker.init(project="p", dir=store, id="bad") as run:
        run.log({"x": 1})
    damage(run_dir(store, "bad"))
    listing = cli(store, "runs", "--json")
    assert listing.returncode == 0, listing.stderr
    assert {row["id"] for row in orjson.loads(listing.stdout)} == {"good0", "good1", "good2"}
    assert "skipped" in listing.stderr and str(run_dir(store, "bad")) in listing.stderr
    assert "Traceback" not in listing.stderr
    shown = cli(store, "show", "p/bad")
    assert shown.returncode == 2 and shown.stderr.startswith("error: ") and "Traceback" not in shown.stderr
    with pytest.raises(tracker.UsageError, match="cannot be resumed"):
        tracker.init(project="p", dir=store, id="bad", resume="allow")


def test_damaged_side_files_and_caches_do_not_break_readers(store):
    make_runs(store)
    (run_dir(store, "good0") / "config.json").unlink()
    (run_dir(store, "good0") / "config.json").mkdir()
    (run_dir(store, "good1") / "summary.json").write_bytes(b"[1, 2")
    assert cli(store, "runs").returncode == 0
    cache = Path(_index.index_path(str(store / "tracker-runs"), "p"))
    assert cache.exists()
    for broken in (b"", b"SQLite format 3\x00" + b"\xff" * 200, b"[]"):
        cache.write_bytes(broken)
        listing = cli(store, "runs", "-m", "x", "--json")
        assert listing.returncode == 0, listing.stderr
        assert {row["id"]: row["metrics"]["x"] for row in orjson.loads(listing.stdout)} == {
            "good0": 0,
            "good1": 1,
            "good2": 2,
        }
    shown = cli(store, "show", "good0", "--json")
    assert shown.returncode == 0 and orjson.loads(shown.stdout)["config"] == {}
    assert "config.json" in shown.stderr


def test_a_manifest_without_jobs_is_skipped_with_a_warning(app):
    app("-m", "seed=0,1", "epochs=2")
    manifests = list((app.store / "tracker-runs" / "sweeps").rglob("*.json"))
    assert len(manifests) == 1
    data = orjson.loads(manifests[0].read_bytes())
    del data["jobs"]
    manifests[0].write_bytes(orjson.dumps(data))
    result = cli(app.store, "sweep", app.runs()[0].group)
    assert result.returncode == 0, result.stderr
    assert str(manifests[0]) in result.stderr and "2 jobs" in result.stdout


# ---------------------------------------------------------------------------------------------- 10. errors
def test_lone_surrogates_are_usage_errors_naming_the_argument(store):
    cases = (({"name": "a\udc80"}, "name"), ({"notes": "\ud800"}, "notes"), ({"tags": ["\udfff"]}, "tags"))
    for kwargs, argument in cases:
        with pytest.raises(tracker.UsageError, match=f"^{argument}"):
            tracker.init(project="p", dir=store, **kwargs)


def test_the_debug_log_survives_an_event_it_cannot_render(tmp_path):
    path = tmp_path / "debug.log"
    log = _logs.DebugLog(str(path), run_id="r")
    log.info("bad", value="\udc80")
    log.info("good", value=1)
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [event["event"] for event in events] == ["bad", "good"] and "unrenderable" in events[0]


def test_the_cli_reports_bad_settings_in_one_line_and_listing_needs_no_mode(store, tmp_path):
    make_runs(store, 1)
    listing = cli(store, "runs", env={"TRACKER_MODE": "bogus"})
    assert listing.returncode == 0 and "good0" in listing.stdout, listing.stderr
    settings = tmp_path / "settings.toml"
    settings.write_text("mode = [\n")
    broken = cli(store, "runs", env={"TRACKER_SETTINGS_FILE": str(settings)})
    assert broken.returncode == 0, broken.stderr  # --dir is given: the settings file is not needed
    no_dir = subprocess.run(
        [TRACKER, "runs"], capture_output=True, text=True, env={**os.environ, "TRACKER_SETTINGS_FILE": str(settings)}
    )
    assert no_dir.returncode == 2 and no_dir.stderr.count("\n") == 1 and "not valid TOML" in no_dir.stderr


def test_a_multirun_with_a_bad_tracker_value_prints_one_line(app):
    result = app("-m", "seed=0,1", "tracker.mode=bogus", expect_ok=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "tracker.mode='bogus'" in result.stderr


# ---------------------------------------------------------------------------------------------- 11. unknown keys
@pytest.mark.parametrize("override", ["+tracker.typo=x", "++tracker.typo=x"])
@pytest.mark.parametrize("mode", ["-m", None])
def test_an_added_unknown_tracker_key_fails_before_any_job(app, override, mode):
    result = app(*([mode] if mode else []), "seed=0", "epochs=2", override, expect_ok=False)
    assert result.returncode != 0 and "tracker.typo" in result.stderr
    assert app.runs() == []


# ---------------------------------------------------------------------------------------------- 12. killed init()
def test_a_run_directory_left_by_a_killed_init_is_reported_and_collected(store):
    make_runs(store, 1)
    result = run_python(
        f"""
        import os, signal, tracker
        from tracker import _writer
        _writer.RunWriter.open = classmethod(lambda *a: os.kill(os.getpid(), signal.SIGKILL))
        tracker.init(project="p", dir={str(store)!r}, id="halfway")
        """,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL
    assert run_dir(store, "halfway").is_dir() and not (run_dir(store, "halfway") / "run.json").exists()
    listing = cli(store, "runs")
    assert listing.returncode == 0 and "holds no run" in listing.stderr and "tracker gc" in listing.stderr
    collected = cli(store, "gc", "-y")
    assert collected.returncode == 0 and "removed 1 run directory" in collected.stderr, collected.stderr
    assert not run_dir(store, "halfway").exists() and run_dir(store, "good0").exists()
    tracker.init(project="p", dir=store, id="halfway").finish()


def test_gc_leaves_a_run_that_is_being_started_alone(store):
    directory = run_dir(store, "starting")
    directory.mkdir(parents=True)
    from tracker._lock import RunLock

    lock = RunLock.acquire(str(directory / _layout.LOCK_FILE), "starting")
    try:
        assert cli(store, "gc", "-y").returncode == 0
        assert directory.is_dir()
    finally:
        lock.release()
