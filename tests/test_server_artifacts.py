"""Artifacts of online runs on a real `tracker server`: shipped, deduplicated, read back, kept per entity."""

from __future__ import annotations

import hashlib
import os
import subprocess
import urllib.error
import urllib.request

import orjson
import pytest

import tracker
from tests.conftest import TRACKER, LiveServer
from tests.test_server import client_env
from tracker import _artifact_remote


def request(server: LiveServer, key: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"}
    if method == "POST":
        headers["Content-Type"] = "application/json"
    sent = urllib.request.Request(server.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def server_blobs(server: LiveServer, entity: str, project: str) -> list[str]:
    top = server.data / "entities" / entity / "artifacts" / project / "blobs"
    return sorted(path.name for path in top.rglob("*") if path.is_file())


def online(server: LiveServer, key: str, store, run_id: str):
    return tracker.init(
        project="p", id=run_id, dir=store, mode="online", settings={"base_url": server.url, "api_key": key}
    )


def test_an_online_runs_artifacts_reach_the_server_in_chunks_deduplicated(server, store, tmp_path, monkeypatch):
    monkeypatch.setattr(_artifact_remote, "CHUNK", 1000)  # a 2,500-byte file goes in three requests
    key = server.user("alice")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.bin").write_bytes(os.urandom(2500))
    (data / "sub" / "b.txt").write_text("b")
    with online(server, key, store, "producer") as run:
        first = tracker.Artifact("dataset", "dataset", description="raw", metadata={"rows": 2})
        first.add_dir(str(data))
        first.add_reference("s3://bucket/key", name="remote")
        run.log_artifact(first, aliases=["best"])
        same = tracker.Artifact("dataset", "dataset")
        same.add_dir(str(data))
        same.add_reference("s3://bucket/key", name="remote")
        run.log_artifact(same)  # equal content: the same version
        (data / "sub" / "b.txt").write_text("changed")
        changed = tracker.Artifact("dataset", "dataset")
        changed.add_dir(str(data))
        run.log_artifact(changed)

    api = tracker.Api(base_url=server.url, api_key=key)
    latest = api.artifact("alice/p/dataset:latest")
    best = api.artifact("p/dataset:best", type="dataset")
    assert (latest.version, best.version) == ("v1", "v0")
    assert best.description == "raw" and best.metadata == {"rows": 2} and best.aliases == ["best"]
    assert (
        sorted(best.manifest) == ["a.bin", "remote", "sub/b.txt"] and best.manifest["remote"].ref == "s3://bucket/key"
    )
    assert [version.version for version in api.artifact_versions("p", "dataset")] == ["v0", "v1"]
    assert api.artifact_names("p") == ["dataset"]
    assert len(server_blobs(server, "alice", "p")) == 3  # a.bin once, b.txt twice
    root = best.download(root=tmp_path / "got")
    assert (tmp_path / "got" / "a.bin").read_bytes() == (data / "a.bin").read_bytes()
    assert (tmp_path / "got" / "sub" / "b.txt").read_text() == "b" and root == str(tmp_path / "got")
    logged = api.run("alice/p/producer").logged_artifacts()
    assert [(artifact.name, artifact.version) for artifact in logged] == [
        ("dataset", "v0"),
        ("dataset", "v0"),
        ("dataset", "v1"),
    ]

    blob = server.data / "entities" / "alice" / "artifacts" / "p" / "blobs"
    damaged = next(path for path in blob.rglob("*") if path.is_file() and path.stat().st_size == 1)
    damaged.chmod(0o644)
    damaged.write_bytes(b"x")
    with pytest.raises(tracker.Error, match="damaged"):
        best.download(root=tmp_path / "again")


def test_a_key_sees_only_its_entities_artifacts(server, store):
    alice, bob = server.user("alice"), server.user("bob")
    with online(server, alice, store, "r1") as run:
        artifact = tracker.Artifact("model", "model")
        with artifact.new_file("weights.txt") as handle:
            handle.write("w")
        run.log_artifact(artifact)
    digest = hashlib.sha256(b"w").hexdigest()
    assert request(server, alice, "GET", f"/api/artifacts/alice/p/blobs/{digest}") == (200, b"w")
    for path in (f"/api/artifacts/alice/p/blobs/{digest}", "/api/artifacts/alice/p/names/model/latest"):
        assert request(server, bob, "GET", path)[0] == 404
    status, _ = request(server, bob, "PUT", f"/api/artifacts/alice/p/blobs/{digest}?size=1", b"w")
    assert status == 404
    with pytest.raises(tracker.Error, match="no artifacts of alice/p"):
        tracker.Api(base_url=server.url, api_key=bob).artifact("alice/p/model")


def test_the_server_refuses_bad_blobs_and_manifests_whose_blobs_are_missing(server):
    key = server.user("alice")
    content = b"0123456789"
    digest = hashlib.sha256(content).hexdigest()
    base = "/api/artifacts/alice/p"
    assert request(server, key, "PUT", f"{base}/blobs/{'0' * 64}?size=3", b"abc")[0] == 400
    manifest = orjson.dumps({"type": "data", "files": {"x": {"digest": digest, "size": 10}}})
    status, body = request(server, key, "POST", f"{base}/names/data/versions", manifest)
    assert status == 409 and orjson.loads(body)["missing"] == [digest]
    assert orjson.loads(request(server, key, "PUT", f"{base}/blobs/{digest}?size=10&offset=0", content[:4])[1]) == {
        "received": 4,
        "complete": False,
    }
    status, body = request(server, key, "PUT", f"{base}/blobs/{digest}?size=10&offset=0", content[:4])
    assert status == 409 and orjson.loads(body)["received"] == 4  # resent: told where the server is
    status, body = request(server, key, "PUT", f"{base}/blobs/{digest}?size=10&offset=4", content[4:])
    assert status == 200 and orjson.loads(body)["complete"] is True
    status, body = request(server, key, "POST", f"{base}/names/data/versions", manifest)
    assert status == 200 and orjson.loads(body)["version"] == 0
    for bad in (
        {"type": "data", "files": {"../x": {"digest": digest, "size": 10}}},
        {"type": "other", "files": {"x": {"digest": digest, "size": 10}}},
        {"type": "data", "files": {"x": {"digest": digest, "size": 10}}, "aliases": ["v3"]},
        {"type": "bad type", "files": {}},
    ):
        status, body = request(server, key, "POST", f"{base}/names/data/versions", orjson.dumps(bad))
        assert status == 400, (bad, body)


def test_sync_ships_the_artifacts_of_an_offline_run(server, store, tmp_path):
    key = server.user("alice")
    with tracker.init(project="p", id="offline1", dir=store, mode="offline") as run:
        artifact = tracker.Artifact("table", "dataset")
        with artifact.new_file("t.csv") as handle:
            handle.write("a,b\n1,2\n")
        run.log_artifact(artifact, aliases=["prod"])
    result = subprocess.run(
        [TRACKER, "--dir", str(store), "sync"], env=client_env(server, key), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    shipped = tracker.Api(base_url=server.url, api_key=key).artifact("p/table:prod")
    assert shipped.logged_by == "offline1"
    shipped.download(root=tmp_path / "t")
    assert (tmp_path / "t" / "t.csv").read_text() == "a,b\n1,2\n"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [TRACKER, "--server", server.url, "artifact", *args]
        return subprocess.run(argv, env=client_env(server, key), capture_output=True, text=True, timeout=120)

    listed = cli("ls", "p/table", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(row["version"], row["aliases"]) for row in orjson.loads(listed.stdout)] == [("v0", ["latest", "prod"])]
    got = cli("get", "p/table:prod", "--root", str(tmp_path / "cli"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "cli" / "t.csv").read_text() == "a,b\n1,2\n"
