"""The tracking server and online mode, against a real `tracker server` (SQLite, and PostgreSQL when marked).

Clients are real processes; phases are staged with marker files, and the server is killed and restarted
for real. Every check reads back through `tracker.Api(base_url=...)` or the HTTP API.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import orjson
import pytest

import tracker
from tests.conftest import TRACKER, LiveServer, free_port, wait_for, wait_for_file

CHILD_SETTINGS = '{"heartbeat_interval": 0.3, "upload_timeout": 60}'


def client_env(server: LiveServer, key: str | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TRACKER_BASE_URL": server.url, "TRACKER_SILENT": "true", **extra}
    if key is not None:
        env["TRACKER_API_KEY"] = key
    else:
        env.pop("TRACKER_API_KEY", None)
    return env


def run_child(code: str, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"child failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def http_get(server: LiveServer, key: str | None, path: str) -> tuple[int, object]:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read() or b"null")


def test_an_online_run_reads_back_every_step_from_the_server(server, store):
    key = server.user("alice")
    run_child(
        f"""
        import sys, tracker
        with tracker.init(project="p", id="online1", dir=sys.argv[1], config={{"lr": 0.1}}, tags=["t"],
                          settings={CHILD_SETTINGS}) as run:
            run.define_metric("loss", summary="min")
            for step in range(3000):
                run.log({{"loss": 1 / (step + 1), "acc": step / 3000, "text": "s%d" % step}})
            print(run.url)
        """,
        client_env(server, key),
        str(store),
    )
    api = tracker.Api(base_url=server.url, api_key=key)
    view = api.run("alice/p/online1")
    rows = view.history()
    assert view.state == "finished" and view.config == {"lr": 0.1} and view.tags == ("t",)
    assert [row["_step"] for row in rows] == list(range(3000))
    assert rows[-1]["text"] == "s2999" and view.summary["loss"] == pytest.approx(1 / 3000)
    local = tracker.Api(store).run("p/online1").history()
    assert rows == local
    status, series = http_get(server, key, "/api/runs/alice/p/online1/series?key=loss&buckets=100")
    assert status == 200 and series["count"] == 3000 and len(series["x"]) <= 100
    assert series["max"][0] == 1.0 and series["last"][-1] == pytest.approx(1 / 3000)
    assert series["step"] == 2999  # the next request's since
    status, newer = http_get(server, key, "/api/runs/alice/p/online1/series?key=loss&since=2990")
    assert status == 200 and newer["x"] == list(range(2991, 3000)) and newer["step"] == 2999
    status, by_acc = http_get(server, key, "/api/runs/alice/p/online1/series?key=loss&x=metric:acc&buckets=5000")
    assert status == 200 and by_acc["x_axis"] == "metric:acc" and by_acc["x"][:2] == [0.0, 1 / 3000]


PHASED = f"""
import os, sys, time, tracker
store, marks = sys.argv[1], sys.argv[2]
def wait(name):
    while not os.path.exists(os.path.join(marks, name)):
        time.sleep(0.01)
run = tracker.init(project="p", id="phased", dir=store, settings={CHILD_SETTINGS})
for phase in range(3):
    for step in range(400):
        run.log({{"x": run.step}})
    open(os.path.join(marks, f"logged{{phase}}"), "w").close()
    wait(f"go{{phase}}")
run.finish()
"""


def test_the_server_killed_and_restarted_mid_run_loses_nothing(server, store, tmp_path):
    key = server.user("alice")
    marks = tmp_path / "marks"
    marks.mkdir()
    child = subprocess.Popen([sys.executable, "-c", PHASED, str(store), str(marks)], env=client_env(server, key))
    wait_for_file(marks / "logged0")
    wait_for(lambda: http_get(server, key, "/api/runs/alice/p/phased")[0] == 200, "the run to reach the server")
    server.stop(signal.SIGKILL)
    (marks / "go0").touch()  # the run goes on while the server is down
    wait_for_file(marks / "logged1")
    server.start()
    (marks / "go1").touch()
    wait_for_file(marks / "logged2")
    (marks / "go2").touch()
    assert child.wait(timeout=300) == 0
    view = tracker.Api(base_url=server.url, api_key=key).run("alice/p/phased")
    assert view.state == "finished" and [row["x"] for row in view.history()] == list(range(1200))


def test_a_run_with_the_server_down_is_uploaded_by_tracker_sync(server, store):
    key = server.user("alice")
    server.stop()
    result = run_child(
        """
        import sys, tracker
        run = tracker.init(project="p", id="later", dir=sys.argv[1])
        for step in range(500):
            run.log({"x": step})
        run.finish()
        """,
        client_env(server, key, TRACKER_SILENT="false"),
        str(store),
    )
    assert "stored offline" in result.stderr and "tracker sync" in result.stderr
    server.start()
    synced = subprocess.run(
        [TRACKER, "--dir", str(store), "sync"], env=client_env(server, key), capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    view = tracker.Api(base_url=server.url, api_key=key).run("alice/p/later")
    assert view.state == "finished" and [row["x"] for row in view.history()] == list(range(500))
    again = subprocess.run(
        [TRACKER, "--dir", str(store), "sync"], env=client_env(server, key), capture_output=True, text=True, timeout=120
    )
    assert "up to date" in again.stderr and len(view.history()) == 500


def test_a_killed_client_reads_crashed_and_sync_completes_it(server, store):
    key = server.user("alice")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, tracker
            run = tracker.init(project="p", id="killed", dir=sys.argv[1], settings={CHILD_SETTINGS})
            for step in range(2000):
                run.log({{"x": step}})
            print("logged", flush=True)
            sys.stdin.read()
            """),
            str(store),
        ],
        env=client_env(server, key),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "logged"
    wait_for(lambda: http_get(server, key, "/api/runs/alice/p/killed")[0] == 200, "the run to reach the server")
    child.kill()
    child.wait()
    wait_for(
        lambda: http_get(server, key, "/api/runs/alice/p/killed")[1]["state"] == "crashed",
        "the server to read the silent run as crashed",
    )
    synced = subprocess.run(
        [TRACKER, "--dir", str(store), "sync"], env=client_env(server, key), capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    view = tracker.Api(base_url=server.url, api_key=key).run("alice/p/killed")
    assert [row["x"] for row in view.history()] == list(range(2000)) and view.state == "crashed"


def test_a_run_resumed_on_another_node_continues_from_the_server(server, tmp_path):
    key = server.user("alice")
    code = """
        import sys, tracker
        run = tracker.init(project="p", id="roaming", dir=sys.argv[1], resume="allow", config={"node": sys.argv[2]},
                           allow_val_change=True)
        print(run.starting_step, run.summary.get("x"), flush=True)
        for _ in range(5):
            run.log({"x": run.step})
        run.finish()
    """
    first = run_child(code, client_env(server, key), str(tmp_path / "node-a"), "a")
    second = run_child(code, client_env(server, key), str(tmp_path / "node-b"), "b")
    assert first.stdout.split() == ["0", "None"] and second.stdout.split() == ["5", "4"]
    view = tracker.Api(base_url=server.url, api_key=key).run("alice/p/roaming")
    assert [row["x"] for row in view.history()] == list(range(10)) and view.config == {"node": "b"}
    assert view.state == "finished"


def test_force_decides_what_happens_without_a_server(store):
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(tracker.Error, match="force=True"):
        tracker.init(project="p", dir=store, mode="online", force=True, settings={"base_url": dead, "api_key": "k"})
    assert not (store / "tracker-runs" / "projects").exists() or not any(
        (store / "tracker-runs" / "projects").iterdir()
    )
    run = tracker.init(project="p", dir=store, mode="online", settings={"base_url": dead, "api_key": "k"})
    assert run.offline and run.url is None
    run.finish()


def test_anonymous_modes(server, store, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials.json"
    monkeypatch.setenv("TRACKER_CREDENTIALS_FILE", str(credentials))
    settings = {"base_url": server.url}
    never = tracker.init(project="p", dir=store, mode="online", anonymous="never", settings=settings)
    assert never.offline
    never.finish()
    allowed = tracker.init(project="p", dir=store, mode="online", anonymous="allow", settings=settings)
    assert not allowed.offline and allowed.entity.startswith("anonymous-")
    allowed.finish()
    assert credentials.stat().st_mode & 0o777 == 0o600
    stored = orjson.loads(credentials.read_bytes())
    assert stored["base_url"] == server.url and stored["entity"] == allowed.entity
    key = server.user("alice")
    must = tracker.init(project="p", dir=store, mode="online", anonymous="must", settings={**settings, "api_key": key})
    assert must.entity.startswith("anonymous-") and must.entity != allowed.entity
    must.finish()
    claimed = server.admin("claim", allowed.entity, "alice")
    assert claimed == "" and tracker.Api(base_url=server.url, api_key=key).run(f"alice/p/{allowed.id}").id == allowed.id


def test_a_server_refusing_anonymous_runs_is_like_missing_credentials(tmp_path, store):
    strict = LiveServer(tmp_path / "strict", None).start()
    try:
        with pytest.raises(tracker.Error, match="does not accept anonymous runs"):
            tracker.init(
                project="p", dir=store, mode="online", anonymous="must", force=True, settings={"base_url": strict.url}
            )
        run = tracker.init(project="p", dir=store, mode="online", anonymous="must", settings={"base_url": strict.url})
        assert run.offline
        run.finish()
    finally:
        strict.stop()


def test_keys_see_only_their_entities(server, store):
    alice, bob = server.user("alice"), server.user("bob")
    carol = server.user("carol")
    server.admin("team", "add", "vision", "--member", "alice", "--member", "carol")
    with tracker.init(
        project="p", id="mine", dir=store, mode="online", settings={"base_url": server.url, "api_key": alice}
    ):
        pass
    with tracker.init(
        project="p",
        id="shared",
        dir=store,
        mode="online",
        entity="vision",
        settings={"base_url": server.url, "api_key": alice},
    ):
        pass
    with pytest.raises(tracker.UsageError, match=r"'bob'.*cannot write to it"):
        tracker.init(
            project="p", dir=store, mode="online", entity="alice", settings={"base_url": server.url, "api_key": bob}
        )
    assert http_get(server, bob, "/api/runs/alice/p/mine")[0] == 404
    assert http_get(server, bob, "/api/runs/alice/p/nosuch")[0] == 404  # the same answer: existence never leaks
    assert http_get(server, None, "/api/runs/alice/p/mine")[0] == 401
    assert [run.id for run in tracker.Api(base_url=server.url, api_key=bob).runs(None)] == []
    assert [run.id for run in tracker.Api(base_url=server.url, api_key=carol).runs(None)] == ["shared"]
    batch = orjson.dumps({"journal_id": "j", "offset": 0, "end": 0, "records": []})
    request = urllib.request.Request(
        f"{server.url}/api/runs/alice/p/intruder/batches", data=batch, headers={"Authorization": f"Bearer {bob}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 404


def test_a_revoked_key_is_refused(server, store):
    key = server.user("alice")
    assert http_get(server, key, "/api/viewer")[0] == 200
    server.admin("key", "revoke", key)
    assert http_get(server, key, "/api/viewer")[0] == 401
    run = tracker.init(project="p", dir=store, mode="online", settings={"base_url": server.url, "api_key": key})
    assert run.offline
    run.finish()
    with pytest.raises(tracker.Error):
        tracker.Api(base_url=server.url, api_key=key).runs(None)


def test_request_bodies_over_the_limit_get_413(tmp_path):
    small = LiveServer(tmp_path / "small", None, "--max-body-mb", "1").start()
    try:
        key = small.user("alice")
        big = orjson.dumps({"journal_id": "j", "offset": 0, "end": 1, "records": [{"_step": 0, "x": "y" * 2_000_000}]})
        # The server answers from the declared length, before reading the body; a client still sending
        # it then would meet a closed connection (EPIPE), so the body is offered only after the answer.
        connection = http.client.HTTPConnection("127.0.0.1", small.port, timeout=30)
        try:
            connection.putrequest("POST", "/api/runs/alice/p/big/batches")
            connection.putheader("Authorization", f"Bearer {key}")
            connection.putheader("Content-Length", str(len(big)))
            connection.endheaders()
            answer = connection.getresponse()
            assert answer.status == 413 and b"limit" in answer.read()
        finally:
            connection.close()
    finally:
        small.stop()


def test_login_stores_the_key_privately_and_logout_forgets_it(server, tmp_path):
    key = server.user("alice")
    credentials = tmp_path / "creds.json"
    env = {**os.environ, "TRACKER_CREDENTIALS_FILE": str(credentials)}
    refused = subprocess.run(
        [TRACKER, "login", "--host", server.url, "--key", "trk_bad_key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and not credentials.exists() and "refused" in refused.stderr
    logged = subprocess.run(
        [TRACKER, "login", "--host", server.url], input=key + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert logged.returncode == 0 and "as alice" in logged.stderr and key not in logged.stderr + logged.stdout
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert subprocess.run([TRACKER, "logout"], env=env, timeout=60).returncode == 0 and not credentials.exists()


def test_a_hydra_sweep_online_lands_every_job_in_one_group(server, app):
    key = server.user("alice")
    app.env.update(TRACKER_BASE_URL=server.url, TRACKER_API_KEY=key)
    app("-m", "lr=0.1,0.01", "seed=0,1", "epochs=3", "tracker.mode=online")
    runs = tracker.Api(base_url=server.url, api_key=key).runs("hydra-demo")
    assert len(runs) == 4 and len({run.group for run in runs}) == 1
    assert all(run.state == "finished" and len(run.history()) == 3 for run in runs)


def test_no_key_reaches_a_log_file(server, store, tmp_path):
    key = server.user("alice")
    with tracker.init(project="p", dir=store, mode="online", settings={"base_url": server.url, "api_key": key}) as run:
        run.log({"x": 1})
    secret = key.split("_", 2)[2].encode()
    for path in [*store.rglob("*"), *server.data.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_run_files_are_uploaded_and_names_cannot_escape_their_run(server, store, tmp_path):
    key = server.user("alice")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with tracker.init(
        project="p", id="withfiles", dir=store, mode="online", settings={"base_url": server.url, "api_key": key}
    ) as run:
        run.save(str(notes), base_path=str(tmp_path))
    status, listed = http_get(server, key, "/api/runs/alice/p/withfiles/files")
    assert status == 200 and listed["files"]["files/notes.txt"]["size"] == 5
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{server.url}/api/runs/alice/p/withfiles/files/files/notes.txt", headers={"Authorization": f"Bearer {key}"}
        ),
        timeout=30,
    ) as answer:
        assert answer.read() == b"hello"
    for name in ("..%2F..%2Fescaped", "a/../../b", "%2Fetc%2Fpasswd", "a//b"):
        request = urllib.request.Request(
            f"{server.url}/api/runs/alice/p/withfiles/files/{name}",
            data=b"x",
            method="PUT",
            headers={"Authorization": f"Bearer {key}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code in (400, 404), name
    assert not list(server.data.rglob("escaped")) and not (server.data / "b").exists()


def test_sigterm_drains_a_batch_in_flight(server):
    """SIGTERM lands while a batch is being received: the server answers it, applies it, then exits.

    `Expect: 100-continue` is the synchronisation point: the server says "100 Continue" only once the
    app is handling the request and waiting for its body, so the signal cannot land before that.
    """
    import socket

    key = server.user("alice")
    body = orjson.dumps(
        {"journal_id": "j", "offset": 0, "end": 10, "records": [{"_step": step, "x": step} for step in range(100)]}
    )
    head = (
        f"POST /api/runs/alice/p/drained/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(head.encode())
        reader = connection.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 100")
        reader.readline()  # the blank line that ends the interim response
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        connection.sendall(body)
        status = reader.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
    assert server.process.wait(timeout=120) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it drained
    server.start()
    status, run = http_get(server, key, "/api/runs/alice/p/drained")
    assert status == 200 and run["rows"] == 100


def test_a_run_replaced_under_the_same_id_replaces_the_server_copy(server, store):
    key = server.user("alice")
    code = f"""
        import sys, tracker
        with tracker.init(project="p", id="again", dir=sys.argv[1], settings={CHILD_SETTINGS}) as run:
            for step in range(int(sys.argv[2])):
                run.log({{"x": float(sys.argv[3])}})
        """
    run_child(code, client_env(server, key), str(store), "50", "1")
    run_child(code, client_env(server, key), str(store), "20", "2")  # resume is off: the run is replaced
    view = tracker.Api(base_url=server.url, api_key=key).run("alice/p/again")
    assert [row["x"] for row in view.history()] == [2.0] * 20
    assert view.summary["x"] == 2.0 and view.state == "finished"


def test_several_worker_processes_share_one_sqlite_store(tmp_path, store):
    """Two uvicorn workers write one SQLite file: concurrent writers queue for the lock, none fails."""
    served = LiveServer(tmp_path / "workers", None, "--workers", "2").start()
    try:
        key = served.user("alice")
        code = f"""
            import sys, tracker
            with tracker.init(project="p", id=sys.argv[2], dir=sys.argv[1], settings={CHILD_SETTINGS}) as run:
                for step in range(3000):
                    run.log({{"x": step}})
            """
        env = client_env(served, key)
        children = [
            subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(store), f"w{index}"], env=env)
            for index in range(4)
        ]
        assert [child.wait(timeout=300) for child in children] == [0, 0, 0, 0]
        api = tracker.Api(base_url=served.url, api_key=key)
        assert {run.id: run._run["rows"] for run in api.runs("p")} == {f"w{index}": 3000 for index in range(4)}
        statuses = [
            orjson.loads(line).get("status") for line in served.log.read_text().splitlines() if "status" in line
        ]
        assert statuses and not [status for status in statuses if status >= 500]  # no batch failed to be retried
    finally:
        served.stop()
