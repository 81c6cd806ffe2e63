"""Artifacts on the server: per entity and project, the same layout as a local store (tracker/FORMAT.md).

Clients upload blobs first (in chunks under the body limit, appended at the offset the server has, so an
interrupted upload resumes and two clients sending the same content cannot corrupt it), then the manifest;
the server checks every blob is there and decides the version under the name's lock, as a local run does.
A key sees only its entities' artifacts: anything else is 404, as for runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from server.app import Identifier, Viewer
from server.responses import OrjsonResponse
from tracker import _validate
from tracker._artifacts import Artifact, ArtifactStore, _checked_alias, _checked_path, _exclusive, fill
from tracker._errors import Error, UsageError

_DIGEST = r"^[0-9a-f]{64}$"
Digest = Annotated[str, Path(pattern=_DIGEST)]
ArtifactName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such entity or artifact for this key"}}


class DigestList(BaseModel):
    digests: list[Annotated[str, Field(pattern=_DIGEST)]] = Field(max_length=100_000)


class Missing(BaseModel):
    missing: list[str]


class Received(BaseModel):
    received: int
    complete: bool


class NewVersion(BaseModel):
    type: str
    description: str | None = None
    metadata: dict[str, Any] = {}
    files: dict[str, dict[str, Any]]
    aliases: list[str] = []
    logged_by: str | None = None


class Names(BaseModel):
    names: list[str]


class Manifest(BaseModel):
    name: str
    type: str
    version: int
    digest: str
    description: str | None
    metadata: dict[str, Any]
    created_at: str | None
    logged_by: str | None
    files: dict[str, dict[str, Any]]
    aliases: list[str]


class Versions(BaseModel):
    versions: list[Manifest]


def _checked_files(files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The manifest's files as the store writes them; UsageError for a bad path, digest, size or reference."""
    checked = {}
    for path in sorted(files):
        entry = files[path]
        _checked_path("files", path)
        digest, size, ref = entry.get("digest"), entry.get("size", 0), entry.get("ref")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"files[{path!r}]: size={size!r} must be a whole number >= 0")
        if ref is not None and not (isinstance(ref, str) and "://" in ref and len(ref) <= 4096):
            raise UsageError(f"files[{path!r}]: ref={ref!r} must be a URI")
        if (digest is not None or ref is None) and not (isinstance(digest, str) and re.fullmatch(_DIGEST, digest)):
            raise UsageError(f"files[{path!r}]: digest={digest!r} must be a SHA-256 in hex")
        checked[path] = {"digest": digest, "size": size, **({"ref": ref} if ref is not None else {})}
    return checked


def _described(artifact: Artifact) -> dict[str, Any]:
    assert artifact.version is not None
    return {
        "name": artifact.name,
        "type": artifact.type,
        "version": int(artifact.version[1:]),
        "digest": artifact.digest,
        "description": artifact.description,
        "metadata": artifact.metadata,
        "created_at": artifact.created_at,
        "logged_by": artifact.logged_by,
        "files": {path: entry.to_json() for path, entry in artifact.manifest.items()},
        "aliases": artifact.aliases,
    }


def routes(root: str) -> APIRouter:
    """The artifact endpoints; an entity's artifacts are kept as in a local store whose root is ``root/<entity>``."""
    router = APIRouter(prefix="/api/artifacts/{entity}/{project}", tags=["artifacts"])

    def store(viewer: Any, entity: str, project: str) -> ArtifactStore:
        if entity not in viewer.entities:
            raise HTTPException(404, f"no artifacts of {entity}/{project} for this key")
        try:
            return ArtifactStore(os.path.join(root, _validate.identifier("entity", entity)), project)
        except UsageError as error:
            raise HTTPException(400, str(error)) from None

    @router.post("/blobs/missing", response_model=Missing, responses=_NOT_FOUND)
    def missing(viewer: Viewer, entity: Identifier, project: Identifier, wanted: DigestList) -> dict[str, Any]:
        """Which of these blobs the server does not have (the client uploads only those)."""
        artifacts = store(viewer, entity, project)
        return {"missing": [digest for digest in wanted.digests if not os.path.isfile(artifacts.blob_path(digest))]}

    @router.put(
        "/blobs/{digest}",
        response_model=Received,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        responses={
            **_NOT_FOUND,
            400: {"description": "the blob's content does not have this digest"},
            409: {"description": "the upload is elsewhere: resend from `received`", "model": Received},
            413: {"description": "body too large"},
        },
    )
    async def put_blob(
        viewer: Viewer,
        entity: Identifier,
        project: Identifier,
        digest: Digest,
        request: Request,
        size: Annotated[int, Query(ge=0, le=1 << 50)],
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Any:
        """Append one chunk at ``offset`` of a blob of ``size`` bytes; the last one checks and stores it."""
        from starlette.concurrency import run_in_threadpool

        artifacts = store(viewer, entity, project)
        chunk = await request.body()
        status, body = await run_in_threadpool(_append, artifacts, digest, size, offset, chunk)
        return OrjsonResponse(body, status_code=status)

    @router.get(
        "/blobs/{digest}",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}, **_NOT_FOUND},
    )
    def get_blob(viewer: Viewer, entity: Identifier, project: Identifier, digest: Digest) -> Any:
        path = store(viewer, entity, project).blob_path(digest)
        if not os.path.isfile(path):
            raise HTTPException(404, f"no blob {digest} in {entity}/{project}")
        return FileResponse(path, media_type="application/octet-stream")

    @router.get("/names", response_model=Names, responses=_NOT_FOUND)
    def names(viewer: Viewer, entity: Identifier, project: Identifier) -> dict[str, Any]:
        return {"names": store(viewer, entity, project).names()}

    @router.post(
        "/names/{name}/versions",
        response_model=Manifest,
        responses={
            **_NOT_FOUND,
            400: {"description": "an invalid manifest, or a type other than the name's"},
            409: {"description": "blobs the manifest lists are missing: upload them first", "model": Missing},
        },
    )
    def post_version(
        viewer: Viewer, entity: Identifier, project: Identifier, name: ArtifactName, version: NewVersion
    ) -> Any:
        """Record a version (or reuse the one with the same content) and move its aliases."""

        artifacts = store(viewer, entity, project)
        try:
            artifact = Artifact(name, version.type, version.description, version.metadata)
            aliases = [_checked_alias(alias) for alias in version.aliases if alias != "latest"]
            files = _checked_files(version.files)
            if version.logged_by is not None:
                _validate.identifier("logged_by", version.logged_by)
            absent = sorted(
                {
                    entry["digest"]
                    for entry in files.values()
                    if "ref" not in entry and not os.path.isfile(artifacts.blob_path(entry["digest"]))
                }
            )
            if absent:
                return OrjsonResponse({"missing": absent}, status_code=409)
            manifest, table = artifacts.commit(
                name, artifact.type, artifact.description, artifact.metadata, files, aliases, version.logged_by
            )
        except UsageError as error:
            raise HTTPException(400, str(error)) from None
        fill(artifact, manifest, table, project, artifacts)
        return _described(artifact)

    @router.get("/names/{name}/versions", response_model=Versions, responses=_NOT_FOUND)
    def versions(viewer: Viewer, entity: Identifier, project: Identifier, name: ArtifactName) -> dict[str, Any]:
        artifacts = store(viewer, entity, project)
        found = artifacts.versions(name)
        if not found:
            raise HTTPException(404, f"no artifact {entity}/{project}/{name}")
        return {"versions": [_described(artifact) for artifact in found]}

    @router.get("/names/{name}/{alias}", response_model=Manifest, responses=_NOT_FOUND)
    def version(
        viewer: Viewer, entity: Identifier, project: Identifier, name: ArtifactName, alias: ArtifactName
    ) -> dict[str, Any]:
        """One version, by ``v3`` or by alias."""
        try:
            return _described(store(viewer, entity, project).get(name, alias))
        except Error as error:
            raise HTTPException(404, str(error)) from None

    return router


def _append(artifacts: ArtifactStore, digest: str, size: int, offset: int, chunk: bytes) -> tuple[int, dict[str, Any]]:
    """Append ``chunk`` to the blob's partial file if it starts where that file ends; store it once whole."""
    blob = artifacts.blob_path(digest)
    if os.path.isfile(blob):
        return 200, {"received": size, "complete": True}
    os.makedirs(os.path.dirname(blob), exist_ok=True)
    partial = f"{blob}.part"
    with _exclusive(f"{blob}.lock"):
        if os.path.isfile(blob):  # another upload finished it meanwhile
            return 200, {"received": size, "complete": True}
        try:
            have = os.path.getsize(partial)
        except FileNotFoundError:
            have = 0
        if offset != have or offset + len(chunk) > size:
            return 409, {"received": have, "complete": False}
        with open(partial, "ab") as handle:
            handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if offset + len(chunk) < size:
            return 200, {"received": offset + len(chunk), "complete": False}
        with open(partial, "rb") as handle:
            found = hashlib.file_digest(handle, "sha256").hexdigest()
        if found != digest:
            os.unlink(partial)
            raise HTTPException(400, f"the uploaded content has sha256 {found}, not {digest}; upload it again")
        os.chmod(partial, 0o444)
        os.replace(partial, blob)
    with contextlib.suppress(OSError):
        os.unlink(f"{blob}.lock")
    return 200, {"received": size, "complete": True}
