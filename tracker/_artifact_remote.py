"""Artifacts on a tracking server: an online run's logged versions shipped there, and read back.

The run's ``artifacts.jsonl`` says which versions it logged; each is sent from the local store as blobs
the server lacks (in chunks under its body limit, resumed from where the server is) and then its
manifest, so the server never lists a version whose files it does not have. Sending again is harmless:
the server keeps one copy of a blob and reuses the version of an equal manifest.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from typing import Any

import orjson

from tracker import _layout
from tracker._artifacts import Artifact, ArtifactStore, fill, lineage
from tracker._errors import Error
from tracker._http import Client, Response, ServerUnreachable
from tracker.atomic import write_atomic

CHUNK = 8 * 1024 * 1024  # well under the server's default body limit (64 MiB)


class ArtifactRefused(Error):
    """The server will not take an artifact (invalid manifest, another type under that name)."""


def _checked(answer: Response, what: str) -> Any:
    if answer.status >= 500:
        raise ServerUnreachable(f"{what}: the server failed ({answer.detail()})")
    if answer.status != 200:
        raise ArtifactRefused(f"{what}: the server refused it ({answer.detail()})")
    return answer.body


def base_path(entity: str, project: str) -> str:
    return f"/api/artifacts/{urllib.parse.quote(entity)}/{urllib.parse.quote(project)}"


class ArtifactShipper:
    """Sends the versions one run logged, in the order it logged them, each once per process."""

    def __init__(self, client: Client, entity: str, run_directory: str) -> None:
        self.client, self.entity, self.directory = client, entity, run_directory
        self.shipped = 0  # lineage records handled so far
        self.refused: list[str] = []  # why the server refused a version (the rest of the run still goes)

    def send(self) -> int:
        """Ship what the run logged since last time; how many versions were sent.

        ServerUnreachable leaves the rest for the next call; a refused version is noted and skipped.
        """
        records = lineage(self.directory)
        sent = 0
        while self.shipped < len(records):
            record = records[self.shipped]
            if record["use"] == "logged":
                try:
                    self._ship(record)
                    sent += 1
                except ArtifactRefused as error:
                    self.refused.append(str(error))
            self.shipped += 1
        return sent

    def _ship(self, record: dict[str, Any]) -> None:
        store = ArtifactStore(_layout.root_of_run(self.directory), record["project"])
        artifact = store.get(record["name"], record["version"])
        what = f"artifact {artifact.qualified_name}"
        base = base_path(self.entity, record["project"])
        stored = {entry.digest: entry.size for entry in artifact.manifest.values() if entry.ref is None}
        if stored:
            body = orjson.dumps({"digests": sorted(d for d in stored if d is not None)})
            for digest in _checked(self.client.post(f"{base}/blobs/missing", body), what)["missing"]:
                self._upload(base, store.blob_path(digest), digest, stored[digest], what)
        manifest = {
            "type": artifact.type,
            "description": artifact.description,
            "metadata": artifact.metadata,
            "files": {path: entry.to_json() for path, entry in artifact.manifest.items()},
            "aliases": [alias for alias in record.get("aliases") or () if alias != "latest"],
            "logged_by": artifact.logged_by,
        }
        _checked(self.client.post(f"{base}/names/{artifact.name}/versions", orjson.dumps(manifest)), what)

    def _upload(self, base: str, blob: str, digest: str, size: int, what: str) -> None:
        """Send one blob in chunks from offset 0, jumping to where the server says it is on a 409."""
        offset = 0
        with open(blob, "rb") as handle:
            while True:
                handle.seek(offset)
                chunk = handle.read(CHUNK)
                answer = self.client.request(
                    "PUT", f"{base}/blobs/{digest}", chunk, query={"offset": offset, "size": size}
                )
                if answer.status == 409:
                    offset = int(answer.body["received"])
                    continue
                body = _checked(answer, what)
                if body["complete"]:
                    return
                offset = int(body["received"])


class ServerBlobs:
    """A server's blobs of one project, as the source ``Artifact.download()`` materialises files from."""

    def __init__(self, client: Client, entity: str, project: str) -> None:
        self.client, self.base = client, base_path(entity, project)

    def materialise(self, digest: str, destination: str, what: str) -> None:
        """Download a blob to ``destination``, refusing content whose SHA-256 is not ``digest``."""
        answer = self.client.request("GET", f"{self.base}/blobs/{digest}", raw=True)
        if answer.status != 200:
            raise Error(f"{what}: the server has no copy of it ({answer.detail()})")
        found = hashlib.sha256(answer.body).hexdigest()
        if found != digest:
            raise Error(f"{what}: the server's copy is damaged (sha256 {found}, expected {digest})")
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        write_atomic(destination, answer.body)


def server_artifact(client: Client, entity: str, project: str, described: dict[str, Any]) -> Artifact:
    """An ``Artifact`` from the server's description of a version, ready to ``download()``."""
    artifact = Artifact(described["name"], described["type"])
    table = {alias: described["version"] for alias in described["aliases"]}
    fill(artifact, described, table, project, ServerBlobs(client, entity, project))
    return artifact
