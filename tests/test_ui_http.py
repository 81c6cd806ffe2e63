"""`tracker ui` and the dashboard's session endpoints over plain HTTP (no browser needed): the local store is
served without a key, the team server only to a signed-in session, and sign-in refuses what it must."""

from __future__ import annotations

import http.cookiejar
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import TRACKER, LiveServer, free_port, run_python, wait_for


def call(opener, url: str, method: str = "GET", body: bytes | None = None, **headers: str) -> tuple[int, object]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read() or b"null")


def test_tracker_ui_serves_the_local_store_and_its_new_runs(store: Path, tmp_path: Path):
    code = f"""
        import tracker
        run = tracker.init(dir={str(store)!r}, project="demo", name="first", config={{"opt": {{"lr": 0.5}}}})
        for step in range(50):
            run.log({{"loss": 1.0 / (step + 1)}})
        run.finish()
        """
    run_python(code)
    port = free_port()
    log = (tmp_path / "ui.log").open("ab")
    process = subprocess.Popen([TRACKER, "--dir", str(store), "ui", "--port", str(port)], stdout=log, stderr=log)
    opener = urllib.request.build_opener()
    base = f"http://127.0.0.1:{port}"
    try:

        def listed() -> list:
            if process.poll() is not None:
                raise AssertionError((tmp_path / "ui.log").read_text())
            try:
                return call(opener, base + "/api/ui/runs?col=config.opt.lr")[1]["runs"]
            except OSError:
                return []

        wait_for(lambda: len(listed()) == 1, "the run in tracker ui", timeout=120)
        (run,) = listed()
        assert run["name"] == "first" and run["state"] == "finished" and run["columns"] == {"config.opt.lr": 0.5}
        status, answer = call(opener, f"{base}/api/ui/series?key=loss&buckets=10&run=local/demo/{run['id']}")
        (series,) = answer["series"]
        assert status == 200 and series["count"] == 50 and len(series["x"]) == 10 and series["name"] == "first"
        assert call(opener, base + "/api/ui/runs", Host=f"rebound.example:{port}")[0] == 403  # DNS rebinding
        status, page = call(opener, base + "/api/ui/runs?sort=bogus")
        assert status == 400 and "sort='bogus'" in page["detail"]
        run_python(code.replace('"first"', '"second"'))
        wait_for(lambda: len(listed()) == 2, "a new run to appear without a restart", timeout=120)
        with urllib.request.urlopen(base + "/", timeout=30) as index:
            assert b"/static/app.js" in index.read()
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture
def team(tmp_path: Path):
    server = LiveServer(tmp_path / "server", None).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_team_server_needs_a_session_and_sign_in_refuses_what_it_must(team):
    key = team.user("ada")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = team.url
    assert call(opener, url + "/api/ui/runs")[0] == 401
    assert call(opener, url + "/api/ui/me")[0] == 401
    as_json = {"Content-Type": "application/json"}
    body = orjson.dumps({"key": key})
    assert call(opener, url + "/api/ui/session", "POST", body)[0] == 415  # a plain form post cannot sign in
    assert call(opener, url + "/api/ui/session", "POST", body, Origin="http://evil.example", **as_json)[0] == 403
    wrong = orjson.dumps({"key": key[:-2] + "zz"})
    assert call(opener, url + "/api/ui/session", "POST", wrong, **as_json)[0] == 401
    assert not list(jar)
    status, signed = call(opener, url + "/api/ui/session", "POST", body, **as_json)
    assert status == 200 and signed["user"] == "ada"
    (cookie,) = list(jar)
    assert key not in cookie.value and cookie.has_nonstandard_attr("HttpOnly")
    assert call(opener, url + "/api/ui/runs")[0] == 200
    assert call(opener, url + "/api/ui/session", "DELETE")[0] == 403  # no CSRF token
    status, me = call(opener, url + "/api/ui/me")
    assert call(opener, url + "/api/ui/session", "DELETE", **{"X-CSRF-Token": me["csrf"]})[0] == 204
    assert call(opener, url + "/api/ui/runs")[0] == 401
    assert call(opener, url + "/api/ui/session", "POST", body, **as_json)[0] == 200
    assert call(opener, url + "/api/ui/runs")[0] == 200
    team.admin("key", "revoke", key)  # a revoked key ends its open sessions, and cannot sign in again
    assert call(opener, url + "/api/ui/runs")[0] == 401
    assert call(opener, url + "/api/ui/session", "POST", body, **as_json)[0] == 401
