"""The run index (tracker/_index.py): a cache readers rebuild, never a second source of truth.

Most tests age the project directory (its mtime an hour back) so that the index trusts its stored
signature and lists from its rows alone: that is the path that could go stale.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracker
from tests.conftest import run_python, wait_for, wait_for_file
from tracker import _index


def project_dir(store: Path) -> Path:
    return store / "tracker-runs" / "projects" / "p"


def index_file(store: Path) -> Path:
    return Path(_index.index_path(str(store / "tracker-runs"), "p"))


def age(store: Path) -> None:
    """Move the project directory's mtime an hour back, as if nothing had changed there for a while."""
    past = time.time() - 3600
    os.utime(project_dir(store), (past, past))


def states(store: Path) -> dict[str, str]:
    return {run.id: run.state for run in tracker.Api(store).runs("p")}


def trusted_listing(store: Path) -> dict[str, str]:
    """List once to store a trusted signature, then again from the index's rows; both must agree."""
    age(store)
    scanned = states(store)
    assert index_signature(store) is not None
    assert states(store) == scanned
    return scanned


def index_signature(store: Path) -> str | None:
    with sqlite3.connect(index_file(store)) as connection:
        row = connection.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
    return row[0] if row else None


def finished_run(store: Path, run_id: str, exit_code: int = 0, **kwargs) -> None:
    with tracker.init(project="p", dir=store, id=run_id, reinit="create_new", **kwargs) as run:
        run.log({"x": 1.0})
        run.finish(exit_code=exit_code)


def test_a_trusted_index_sees_new_resumed_and_deleted_runs(store):
    for run_id in ("a", "b", "c"):
        finished_run(store, run_id)
    assert trusted_listing(store) == {"a": "finished", "b": "finished", "c": "finished"}

    finished_run(store, "d")
    assert states(store) == {"a": "finished", "b": "finished", "c": "finished", "d": "finished"}

    assert trusted_listing(store)["b"] == "finished"
    finished_run(store, "b", exit_code=3, resume="allow")  # run.json rewritten in place, in a run directory
    assert states(store)["b"] == "failed"

    trusted_listing(store)
    shutil.rmtree(project_dir(store) / "c")
    assert set(states(store)) == {"a", "b", "d"}


def test_a_run_written_by_another_process_is_followed_until_it_ends(store, tmp_path):
    finished_run(store, "before")
    release = tmp_path / "release"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import os, time, tracker
                run = tracker.init(project="p", dir={str(store)!r}, id="live")
                run.log({{"x": 1.0}})
                while not os.path.exists({str(release)!r}):
                    time.sleep(0.01)
                run.finish(exit_code=2)
            """),
        ],
        env=os.environ.copy(),
    )
    try:
        wait_for_file(project_dir(store) / "live" / "history.jsonl")
        wait_for(lambda: "live" in states(store), "the live run to be listed")
        assert trusted_listing(store) == {"before": "finished", "live": "running"}
        release.write_text("go")
        assert child.wait(timeout=120) == 0
    finally:
        child.kill()
    # its finish changed only its own directory, so the trusted signature still holds: the row must be read again
    assert index_signature(store) is not None
    assert states(store) == {"before": "finished", "live": "failed"}
    with sqlite3.connect(index_file(store)) as connection:  # and the cached row follows
        assert connection.execute("SELECT state FROM runs WHERE name = 'live'").fetchone() == ("failed",)
    killed = f"import os, signal, tracker; tracker.init(project='p', dir={str(store)!r}, id='killed')"
    run_python(f"{killed}; os.kill(os.getpid(), signal.SIGKILL)", check=False)
    assert states(store)["killed"] == "crashed"


def test_listing_while_other_processes_write_and_list(store):
    script = textwrap.dedent(f"""
        import sys, tracker
        for index in range(6):
            run_id = f"w{{sys.argv[1]}}-{{index}}"
            with tracker.init(project="p", dir={str(store)!r}, id=run_id, reinit="create_new") as run:
                run.log({{"x": float(index)}})
                tracker.Api({str(store)!r}).runs("p")
    """)
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(number)], env=os.environ.copy()) for number in range(3)
    ]
    try:
        seen: set[str] = set()
        while any(writer.poll() is None for writer in writers):
            listed = states(store)
            assert seen <= set(listed), "a run once listed disappeared"
            seen = set(listed)
        assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0]
    finally:
        for writer in writers:
            writer.kill()
    expected = {f"w{number}-{index}": "finished" for number in range(3) for index in range(6)}
    assert states(store) == expected
    assert trusted_listing(store) == expected
    with sqlite3.connect(index_file(store)) as connection:
        assert connection.execute("SELECT count(*) FROM runs WHERE state = 'finished'").fetchone() == (18,)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(b"not a database at all" * 100), id="garbage"),
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:1000]), id="truncated"),
        pytest.param(lambda path: path.write_bytes(b""), id="empty"),
        pytest.param(lambda path: path.unlink(), id="deleted"),
    ],
)
def test_a_damaged_index_is_rebuilt_silently(store, capsys, damage):
    for run_id in ("a", "b"):
        finished_run(store, run_id)
    expected = trusted_listing(store)
    capsys.readouterr()
    damage(index_file(store))
    assert states(store) == expected
    assert capsys.readouterr().err == ""
    assert trusted_listing(store) == expected  # rebuilt, and trusted again
    with sqlite3.connect(index_file(store)) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (2,)


def test_undecodable_stored_files_fall_back_to_the_run_files(store):
    finished_run(store, "a")
    trusted_listing(store)
    with sqlite3.connect(index_file(store)) as connection:
        connection.execute("UPDATE records SET record = x'00ff', summary = x'5b31'")  # undecodable JSON
    (view,) = tracker.Api(store).runs("p")
    assert (view.name, view.state, view.summary["x"]) == (tracker.Api(store).run("p/a").name, "finished", 1.0)


def test_an_index_deleted_after_listing_leaves_the_views_reading_the_run_files(store):
    finished_run(store, "a", name="first")
    trusted_listing(store)
    (view,) = tracker.Api(store).runs("p")
    index_file(store).unlink()
    assert (view.name, view.state, view.summary["x"]) == ("first", "finished", 1.0)


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE runs (name TEXT PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER, state TEXT, created_at TEXT,
    id TEXT, record BLOB, summary BLOB, problem TEXT) WITHOUT ROWID;
"""


@pytest.mark.parametrize("version", [1, 99])
def test_an_index_of_another_schema_version_is_rebuilt(store, version):
    finished_run(store, "a")
    expected = trusted_listing(store)
    signature = index_signature(store)
    index_file(store).unlink()
    with sqlite3.connect(index_file(store)) as connection:  # the old layout, rows that would list a ghost
        connection.executescript(V1_SCHEMA)
        connection.executemany(
            "INSERT INTO meta VALUES (?, ?)", [("schema", 1), ("signature", signature), ("generation", 7)]
        )
        connection.execute(
            "INSERT INTO runs VALUES ('ghost', 1, 1, 1, 'finished', '2000-01-01T00:00:00Z', 'ghost', ?, NULL, NULL)",
            (b'{"id": "ghost"}',),
        )
        if version != 1:
            connection.execute(f"PRAGMA user_version = {version}")
    assert states(store) == expected
    with sqlite3.connect(index_file(store)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (_index.SCHEMA_VERSION,)
        assert connection.execute("SELECT name FROM runs").fetchall() == [("a",)]
    assert trusted_listing(store) == expected


def test_the_index_of_another_tracker_version_is_left_to_it(store):
    """Trackers of two versions sharing a store each keep their own index file, rather than replacing
    each other's on every listing (the version-1 file had no version in its name)."""
    finished_run(store, "a")
    cache = Path(_index.index_path(str(store / "tracker-runs"), "p")).parent
    cache.mkdir(parents=True, exist_ok=True)
    older = cache / "runs-p.sqlite"
    older.write_bytes(b"an index of the version-1 layout")
    assert [view.id for view in tracker.Api(store).runs("p")] == ["a"]
    assert older.read_bytes() == b"an index of the version-1 layout" and index_file(store).exists()


def test_a_store_whose_index_cannot_be_written_is_listed_by_scanning(store):
    finished_run(store, "a")
    cache = store / "tracker-runs" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    cache.write_text("a file where the cache directory would be")
    age(store)
    assert states(store) == {"a": "finished"}
    finished_run(store, "b")
    assert states(store) == {"a": "finished", "b": "finished"}


def test_index_rows_keep_what_the_run_files_say(store):
    with tracker.init(project="p", dir=store, id="n", name="named", tags=["t"], group="g") as run:
        run.log({"loss": math.nan, "acc": 0.5})
    (listed,) = tracker.Api(store).runs("p")
    age(store)
    (cached,) = tracker.Api(store).runs("p", tags="t", group="g")
    for view in (listed, cached):
        assert (view.id, view.name, view.tags, view.group, view.state) == ("n", "named", ("t",), "g", "finished")
        assert math.isnan(view.summary["loss"]) and view.summary["acc"] == 0.5
        assert view.created_at == tracker.Api(store).run("p/n").created_at


def test_a_directory_changed_in_the_same_clock_tick_is_not_trusted(store, monkeypatch):
    finished_run(store, "a")
    monkeypatch.setattr(_index, "RACY_S", 3600 * 24)  # every change is "just now"
    age(store)
    assert states(store) == {"a": "finished"}
    assert index_signature(store) is None  # the next listing scans again


def crashed_run(store: Path, run_id: str, **kwargs: str) -> None:
    """A run whose process was killed: run.json still says running, so its row is never settled."""
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    started = f"import os, signal, tracker; tracker.init(project='p', dir={str(store)!r}, id={run_id!r}, {arguments})"
    run_python(f"{started}; os.kill(os.getpid(), signal.SIGKILL)", check=False)


@pytest.fixture
def filtered_store(store):
    finished_run(store, "a", group="g1", tags=["x"], job_type="train")
    crashed_run(store, "b", group="g1", job_type="train")  # between the others: merged in its place
    finished_run(store, "c", group="g1", tags=["x", "y"], job_type="eval", exit_code=1)
    finished_run(store, "d", group="g2", job_type="train")
    return store


FILTERS = [
    ({}, ["a", "b", "c", "d"]),
    ({"group": "g1"}, ["a", "b", "c"]),
    ({"tags": "x"}, ["a", "c"]),
    ({"tags": ["x", "y"]}, ["c"]),
    ({"tags": ["y", "z"]}, []),
    ({"job_type": "train"}, ["a", "b", "d"]),
    ({"state": "crashed"}, ["b"]),
    ({"state": "running"}, []),
    ({"state": "failed", "group": "g1"}, ["c"]),
    ({"state": "finished", "job_type": "train", "group": "g1", "tags": "x"}, ["a"]),
]


@pytest.mark.parametrize("path", ["trusted index", "scan", "no index"])
def test_filters_keep_the_same_runs_in_order_on_every_path(filtered_store, monkeypatch, path):
    """The index filters settled runs in SQL; live ones and a store without index are filtered on their views."""
    if path == "trusted index":
        trusted_listing(filtered_store)
    elif path == "scan":
        monkeypatch.setattr(_index, "RACY_S", 3600 * 24)  # the signature is never trusted: every listing scans
    else:
        shutil.rmtree(filtered_store / "tracker-runs" / "cache", ignore_errors=True)
        (filtered_store / "tracker-runs" / "cache").write_text("no index can be made here")
    api = tracker.Api(filtered_store)
    for filters, expected in FILTERS:
        assert [view.id for view in api.runs("p", **filters)] == expected, filters
    if path == "trusted index":
        assert index_signature(filtered_store) is not None  # the listings above came from the index's rows


def test_a_listing_reads_the_stored_files_once_and_only_when_needed(store, monkeypatch):
    for run_id in ("a", "b", "c", "d", "e"):
        finished_run(store, run_id, name=f"run-{run_id}", group="g" if run_id == "b" else None)
    trusted_listing(store)
    monkeypatch.setattr(_index, "_MAX_NAMES", 2)  # more names than that: the load reads the whole table
    loads: list[list[str]] = []
    stored_files = _index._Index.stored_files

    def counted(self, names):
        loads.append(names)
        return stored_files(self, names)

    monkeypatch.setattr(_index._Index, "stored_files", counted)
    run_files: list[str] = []  # run.json files read because the index had no answer
    read_json_object = tracker._api.read_json_object
    monkeypatch.setattr(
        tracker._api, "read_json_object", lambda path, what: run_files.append(path) or read_json_object(path, what)
    )
    views = tracker.Api(store).runs("p")
    assert [view.id for view in views] == ["a", "b", "c", "d", "e"] and loads == []
    assert (views[-1].summary["x"], views[-1].name) == (1.0, "run-e")
    assert loads == [["a", "b", "c", "d", "e"]]
    assert [view.name for view in views] == ["run-a", "run-b", "run-c", "run-d", "run-e"]
    assert [view.summary["x"] for view in views] == [1.0] * 5
    assert len(loads) == 1 and run_files == []
    (view,) = tracker.Api(store).runs("p", group="g")
    assert view.name == "run-b"
    assert loads[1:] == [["b"]]  # a filtered listing reads the files of the runs it kept, not the project's
    assert run_files == []
