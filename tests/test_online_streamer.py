"""The live uploader ships whole journal lines as read (no decoding), from where the server has the journal.

A real server (SQLite, and PostgreSQL under the postgres marker) and a journal written by hand, so the
line being written when a batch is read (no newline yet) can be placed exactly.
"""

from __future__ import annotations

import orjson

import tracker
from tracker._http import Client
from tracker._layout import RunPaths
from tracker._online import Uploader


def _line(step: int) -> bytes:
    return orjson.dumps({"_step": step, "_timestamp": 1.8e9 + step, "loss": 1 / (step + 1)}) + b"\n"


def test_a_line_still_being_written_waits_for_the_next_batch(server, tmp_path) -> None:
    key = server.user("alice")
    paths = RunPaths(str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    whole = b"".join(_line(step) for step in range(5))
    partial = _line(5)[:-7]
    with open(paths.history, "wb") as journal:
        journal.write(whole + partial)
    uploader = Uploader(Client(server.url, key), "/api/runs/alice/p/r", paths, "j1", live_summary=lambda: {"loss": 0.2})
    assert uploader.send()
    assert uploader.offset == len(whole)
    assert uploader.pending() == len(partial)
    with open(paths.history, "ab") as journal:
        journal.write(_line(5)[-7:] + _line(6))
    assert uploader.send()
    assert uploader.offset == len(whole) + len(_line(5)) + len(_line(6)) and uploader.pending() == 0
    assert not uploader.send()  # nothing new, no heartbeat asked: no request
    run = tracker.Api(base_url=server.url, api_key=key).run("alice/p/r")
    assert [row["_step"] for row in run.history()] == list(range(7))
    assert run.summary["loss"] == 0.2
