"""The run page's endpoints over plain HTTP (no browser): a run's files are served so that none can act as a
page of the dashboard, names that leave the run are refused, and the state history reads the debug events."""

from __future__ import annotations

import http.client
from pathlib import Path

import orjson

from server.runpage import state_history
from tests.conftest import run_python
from tests.test_dashboard import LocalUI


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """A request whose path is sent exactly as written (urllib would normalise ``..``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, {key.lower(): value for key, value in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def test_run_files_download_unless_they_are_media_and_never_leave_the_run(store: Path, tmp_path: Path):
    run_python(
        f"""
        import numpy, tracker
        run = tracker.init(dir={str(store)!r}, project="demo", id="files1")
        run.log({{"page": tracker.Html("<script>alert(1)</script>"), "img": tracker.Image(numpy.zeros((4, 4, 3)))}})
        with open(run.dir + "/evil.svg", "w") as handle:
            handle.write('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
        run.finish()
        """
    )
    served = LocalUI(store, tmp_path / "ui.log")
    try:
        base = "/api/ui/run/local/demo/files1"
        status, _, body = get(served.port, base)
        assert status == 200
        page = orjson.loads(body)
        files = {file["name"]: file["size"] for file in page["files"]}
        assert files["files/evil.svg"] == 59 and "logs/debug.log" in files and "run.json" not in files
        assert [change["label"] for change in page["states"]] == ["started", "finished"]
        assert page["events"][-1]["event"] == "run.finished" and "state=finished" in page["events"][-1]["fields"]
        (html,) = [name for name in files if name.endswith(".html")]
        (image,) = [name for name in files if name.endswith(".png")]
        for name in (html, "files/evil.svg"):
            status, headers, _ = get(served.port, f"{base}/file/{name}")
            assert status == 200 and headers["content-type"] == "application/octet-stream"
            assert headers["content-disposition"].startswith("attachment")
            assert headers["x-content-type-options"] == "nosniff" and "sandbox" in headers["content-security-policy"]
        status, headers, data = get(served.port, f"{base}/file/{image}")
        assert status == 200 and headers["content-type"] == "image/png" and data.startswith(b"\x89PNG")
        assert headers["content-disposition"].startswith("inline")
        assert get(served.port, f"{base}/file/{image}?download=1")[1]["content-disposition"].startswith("attachment")
        assert get(served.port, f"{base}/file/files%2F..%2F..%2F..%2Fx")[0] == 400  # a name that leaves the run
        for name in ("run.json", "history.jsonl", "lock", "files/nothing"):  # not a file the page lists
            assert get(served.port, f"{base}/file/{name}")[0] == 404
        assert get(served.port, "/api/ui/run/local/demo/nosuch")[0] == 404
        status, _, body = get(served.port, f"{base}/media")
        media = orjson.loads(body)["media"]
        assert status == 200 and sorted(media) == ["img", "page"] and media["img"][0]["value"]["_type"] == "image"
    finally:
        served.stop()


def test_a_run_killed_without_finishing_ends_its_history_in_the_state_it_reads():
    events = [
        {"event": "identity.decided", "action": "new", "timestamp": "2026-01-01T00:00:00Z", "reason": "new id"},
        {"event": "run.preempting", "timestamp": "2026-01-01T00:01:00Z"},
    ]
    history = state_history(events, "preempted", "2026-01-01T00:00:00Z")
    assert [(change["label"], change["state"]) for change in history] == [
        ("started", "running"),
        ("preempting", "preempted"),
        ("preempted", "preempted"),
    ]
    assert history[-1]["at"] is None and "without finishing" in history[-1]["detail"]
    created = "2026-01-01T00:00:00Z"
    new, resumed = ({"event": "identity.decided", "action": action} for action in ("new", "resumed"))
    finished = {"event": "run.finished", "state": "finished", "exit_code": 0}
    killed_then_resumed = state_history([new, resumed, finished], "finished", created)
    assert [change["label"] for change in killed_then_resumed] == ["started", "crashed", "resumed", "finished"]
    preempted = {"event": "run.finished", "state": "preempted", "exit_code": 0}
    labels = [change["label"] for change in state_history([new, preempted, resumed], "running", created)]
    assert labels == ["started", "preempted", "resumed"]
    assert [change["label"] for change in state_history([], "crashed", created)] == ["started", "crashed"]
    assert [change["label"] for change in state_history([], "running", created)] == ["started"]
    labels = [change["label"] for change in state_history([new, finished], "running", created)]
    assert labels == ["started", "finished", "running"]  # resumed by a process whose events are not there yet
