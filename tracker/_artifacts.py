"""Artifacts: versioned sets of files that runs produce and consume, under wandb's names.

Each distinct file is stored once per project (content-addressed by SHA-256), so logging the same data
twice costs nothing and a version is just a manifest. Versions of a name are decided under that name's
lock: processes logging it at once get distinct versions, and a manifest equal to an existing
version's reuses that version (its aliases move, nothing is duplicated). Layout: see FORMAT.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

import orjson

from tracker import _layout, _validate
from tracker._errors import Error, UsageError
from tracker._journal import encode_json
from tracker._metadata import utc_now_iso
from tracker.atomic import write_all, write_atomic

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"v(\d{1,9})")
LATEST = "latest"
_CHUNK = 1 << 20
MANIFEST_FORMAT = 1


def checked_name(argument: str, value: Any) -> str:
    """An artifact name, type or alias: letters, digits, '-', '_' and '.', starting with a letter or digit."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise UsageError(
            f"{argument}={value!r} must be 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return value


def _checked_alias(value: Any) -> str:
    alias = checked_name("aliases", value)
    if _VERSION.fullmatch(alias):
        raise UsageError(f"aliases: {alias!r} looks like a version; versions (v0, v1, ...) are given, not chosen")
    return alias


def _checked_path(argument: str, value: Any) -> str:
    """A path inside an artifact: relative, '/'-separated, no empty, '.' or '..' part."""
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise UsageError(f"{argument}={value!r} must be a relative path of 1 to 1024 characters")
    if value.startswith("/") or "\\" in value or any(ord(char) < 32 for char in value):
        raise UsageError(f"{argument}={value!r} must be a relative path without backslashes or control characters")
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise UsageError(f"{argument}={value!r} must not have empty, '.' or '..' parts")
    return value


def _copy_hashing(source: str, target_dir: str) -> tuple[str, str, int]:
    """Copy ``source`` to a temp file in ``target_dir`` in one pass: (temp path, sha256, size)."""
    digest, size = hashlib.sha256(), 0
    fd, temporary = tempfile.mkstemp(dir=target_dir, suffix=".tmp")
    try:
        with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary, digest.hexdigest(), size


def _file_digest(path: str) -> tuple[str, int]:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest(), os.fstat(handle.fileno()).st_size


class BlobSource(Protocol):
    """Where a logged artifact's files come from: a local store, or a tracking server."""

    def materialise(self, digest: str, destination: str, what: str) -> None: ...


class ArtifactEntry:
    """One file of an artifact: where it comes from before logging, its digest and size once known."""

    __slots__ = ("digest", "path", "ref", "size", "source")

    def __init__(
        self, path: str, *, source: str | None = None, ref: str | None = None, digest: str | None = None, size: int = 0
    ) -> None:
        self.path, self.source, self.ref, self.digest, self.size = path, source, ref, digest, size

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"digest": self.digest, "size": self.size}
        if self.ref is not None:
            entry["ref"] = self.ref
        return entry

    def __repr__(self) -> str:
        return f"<ArtifactEntry {self.path} {self.size} B{' ref ' + self.ref if self.ref else ''}>"


class Artifact:
    """A versioned set of files (``tracker.Artifact``, as ``wandb.Artifact``); log it with ``run.log_artifact``."""

    def __init__(
        self, name: str, type: str, description: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self.name = checked_name("Artifact: name", name)
        self.type = checked_name("Artifact: type", type)
        self.description = _validate.text("Artifact: description", description) if description is not None else None
        if metadata is not None and not isinstance(metadata, dict):
            raise UsageError(f"Artifact: metadata must be a dict, not {metadata.__class__.__name__}")
        self.metadata: dict[str, Any] = orjson.loads(encode_json("Artifact: metadata", metadata or {}, pretty=False))
        self._entries: dict[str, ArtifactEntry] = {}
        self._staging: tempfile.TemporaryDirectory[str] | None = None
        self.project: str | None = None
        self.version: str | None = None
        self.digest: str | None = None
        self.aliases: list[str] = []
        self.created_at: str | None = None
        self.logged_by: str | None = None
        self._store: BlobSource | None = None

    # ------------------------------------------------------------------ building
    def _ensure_draft(self, what: str) -> None:
        if self.version is not None:
            raise UsageError(f"artifact {self.qualified_name} is logged; {what} cannot change it (make a new Artifact)")

    def _add(self, entry: ArtifactEntry, overwrite: bool) -> ArtifactEntry:
        if entry.path in self._entries and not overwrite:
            raise UsageError(f"artifact {self.name!r} already has {entry.path!r} (pass overwrite=True to replace it)")
        self._entries[entry.path] = entry
        return entry

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, *, overwrite: bool = False
    ) -> ArtifactEntry:
        """Add a file (copied into the store when the artifact is logged) as ``name`` (default: its base name)."""
        self._ensure_draft("add_file()")
        path = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(path):
            raise UsageError(f"add_file: {os.fspath(local_path)!r} is not a file")
        entry_name = _checked_path("add_file: name", name if name is not None else os.path.basename(path))
        return self._add(ArtifactEntry(entry_name, source=path), overwrite)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> list[ArtifactEntry]:
        """Add every file under a directory, keeping its layout (under ``name``/ if given)."""
        self._ensure_draft("add_dir()")
        top = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(top):
            raise UsageError(f"add_dir: {os.fspath(local_path)!r} is not a directory")
        prefix = _checked_path("add_dir: name", name.strip("/")) + "/" if name else ""
        added = []
        for directory, subdirectories, files in os.walk(top):
            subdirectories.sort()
            for file_name in sorted(files):
                source = os.path.join(directory, file_name)
                relative = os.path.relpath(source, top).replace(os.sep, "/")
                added.append(self._add(ArtifactEntry(prefix + relative, source=source), overwrite=True))
        return added

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True) -> ArtifactEntry:
        """Record a URI without copying it; a local ``file://`` reference gets its digest when ``checksum``."""
        self._ensure_draft("add_reference()")
        if not isinstance(uri, str) or "://" not in uri:
            raise UsageError(f"add_reference: uri={uri!r} must be a URI such as file:///data/x or s3://bucket/key")
        default = uri.rstrip("/").rsplit("/", 1)[-1]
        entry = ArtifactEntry(_checked_path("add_reference: name", name if name is not None else default), ref=uri)
        local = uri.removeprefix("file://") if uri.startswith("file://") else None
        if checksum and local is not None and os.path.isfile(local):
            entry.digest, entry.size = _file_digest(local)
        return self._add(entry, overwrite=False)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a new file straight into the artifact: ``with artifact.new_file("a.txt") as f: f.write(...)``."""
        self._ensure_draft("new_file()")
        entry_name = _checked_path("new_file: name", name)
        if mode not in ("w", "wb", "x", "xb"):
            raise UsageError(f"new_file: mode={mode!r} must be 'w' or 'wb'")
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="tracker-artifact-")
        path = os.path.join(self._staging.name, entry_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode.replace("x", "w"), encoding=encoding if "b" not in mode else None) as handle:
            yield handle
        self._add(ArtifactEntry(entry_name, source=path), overwrite=False)

    def remove(self, name: str) -> None:
        self._ensure_draft("remove()")
        if self._entries.pop(name, None) is None:
            raise UsageError(f"remove: artifact {self.name!r} has no {name!r}")

    # ------------------------------------------------------------------ reading
    @property
    def manifest(self) -> dict[str, ArtifactEntry]:
        return dict(self._entries)

    def get_entry(self, name: str) -> ArtifactEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(f"artifact {self.qualified_name} has no {name!r}") from None

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self._entries.values())

    @property
    def qualified_name(self) -> str:
        version = f":{self.version}" if self.version is not None else ""
        return f"{self.project}/{self.name}{version}" if self.project else f"{self.name}{version}"

    def wait(self) -> Artifact:
        """Logging is synchronous here; kept so wandb code calling ``artifact.wait()`` runs unchanged."""
        return self

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Materialise the files under ``root`` (default ``./artifacts/NAME:VERSION``), checking every digest."""
        if self._store is None or self.version is None:
            raise UsageError(f"artifact {self.name!r} is not logged; only a logged artifact can be downloaded")
        default = os.path.join("artifacts", f"{self.name}:{self.version}")
        target = os.path.abspath(os.fspath(root) if root is not None else default)
        for entry in self._entries.values():
            if entry.ref is not None:
                continue  # a reference is recorded, not stored
            destination = os.path.join(target, *entry.path.split("/"))
            assert entry.digest is not None
            self._store.materialise(entry.digest, destination, f"{self.qualified_name} {entry.path}")
        os.makedirs(target, exist_ok=True)
        return target

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type} files={len(self._entries)}>"


class ArtifactStore:
    """The artifacts of one project in a local store: blobs, version manifests and aliases."""

    def __init__(self, root: str, project: str) -> None:
        self.project = _validate.identifier("project", project)
        self.directory = _layout.artifacts_dir(root, project)
        self._blobs = os.path.join(self.directory, "blobs")

    def blob_path(self, digest: str) -> str:
        return os.path.join(self._blobs, digest[:2], digest)

    def _name_dir(self, name: str) -> str:
        return os.path.join(self.directory, "names", name)

    # ------------------------------------------------------------------ writing
    def _store_file(self, entry: ArtifactEntry) -> None:
        assert entry.source is not None
        os.makedirs(self._blobs, exist_ok=True)
        temporary, entry.digest, entry.size = _copy_hashing(entry.source, self._blobs)
        blob = self.blob_path(entry.digest)
        if os.path.exists(blob):
            os.unlink(temporary)
            return
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        os.chmod(temporary, 0o444)
        os.replace(temporary, blob)

    def log(self, artifact: Artifact, aliases: list[str], run_id: str | None) -> None:
        """Store the files, then pick the version under the name's lock; fills in the artifact's version."""
        for entry in artifact._entries.values():
            if entry.source is not None:
                self._store_file(entry)
        files = {path: artifact._entries[path].to_json() for path in sorted(artifact._entries)}
        manifest, table = self.commit(
            artifact.name, artifact.type, artifact.description, artifact.metadata, files, aliases, run_id
        )
        fill(artifact, manifest, table, self.project, self)

    def commit(
        self,
        name: str,
        type: str,
        description: str | None,
        metadata: dict[str, Any],
        files: dict[str, dict[str, Any]],
        aliases: list[str],
        logged_by: str | None,
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """Record a version whose blobs are stored: (its manifest, the name's aliases after the move).

        A manifest equal to an existing version's reuses that version; only its aliases move.
        """
        digest = hashlib.sha256(orjson.dumps(files, option=orjson.OPT_SORT_KEYS)).hexdigest()
        directory = self._name_dir(name)
        os.makedirs(directory, exist_ok=True)
        with _exclusive(os.path.join(directory, "lock")):
            versions = self._versions(name)
            same = next((number for number, manifest in versions.items() if manifest["digest"] == digest), None)
            if same is not None:
                manifest = versions[same]
                if manifest["type"] != type:
                    raise UsageError(f"artifact {name!r} is of type {manifest['type']!r}, not {type!r}")
            else:
                if versions and versions[max(versions)]["type"] != type:
                    existing = versions[max(versions)]["type"]
                    raise UsageError(f"artifact {name!r} is of type {existing!r}, not {type!r}")
                number = max(versions) + 1 if versions else 0
                manifest = {
                    "format": MANIFEST_FORMAT,
                    "name": name,
                    "type": type,
                    "version": number,
                    "digest": digest,
                    "description": description,
                    "metadata": metadata,
                    "created_at": utc_now_iso(time.time()),
                    "logged_by": logged_by,
                    "files": files,
                }
                write_atomic(os.path.join(directory, f"v{number}.json"), orjson.dumps(manifest))
            number = manifest["version"]
            table = self._aliases(name)
            for alias in (LATEST, *aliases):
                table[alias] = number
            write_atomic(os.path.join(directory, "aliases.json"), orjson.dumps(table, option=orjson.OPT_SORT_KEYS))
        return manifest, table

    # ------------------------------------------------------------------ reading
    def _versions(self, name: str) -> dict[int, dict[str, Any]]:
        found = {}
        with contextlib.suppress(FileNotFoundError):
            for file_name in os.listdir(self._name_dir(name)):
                match = _VERSION.fullmatch(file_name.removesuffix(".json"))
                if match and file_name.endswith(".json"):
                    found[int(match.group(1))] = self._manifest(name, int(match.group(1)))
        return found

    def _manifest(self, name: str, number: int) -> dict[str, Any]:
        path = os.path.join(self._name_dir(name), f"v{number}.json")
        try:
            with open(path, "rb") as handle:
                manifest = orjson.loads(handle.read())
        except FileNotFoundError:
            raise Error(f"artifact {self.project}/{name} has no version v{number}") from None
        except (OSError, orjson.JSONDecodeError) as error:
            raise Error(f"artifact {self.project}/{name}:v{number} is damaged ({path}: {error})") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise Error(f"artifact {self.project}/{name}:v{number} is damaged ({path} is not a manifest)")
        return manifest

    def _aliases(self, name: str) -> dict[str, int]:
        try:
            with open(os.path.join(self._name_dir(name), "aliases.json"), "rb") as handle:
                table = orjson.loads(handle.read())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as error:
            raise Error(f"the aliases of artifact {self.project}/{name} are damaged ({error})") from None
        return {alias: number for alias, number in table.items() if isinstance(number, int)}

    def names(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            return sorted(name for name in os.listdir(os.path.join(self.directory, "names")) if _NAME.fullmatch(name))
        return []

    def versions(self, name: str) -> list[Artifact]:
        """Every version of a name, oldest first."""
        checked_name("name", name)
        table = self._aliases(name)
        found = []
        for _, manifest in sorted(self._versions(name).items()):
            artifact = Artifact(manifest["name"], manifest["type"])
            fill(artifact, manifest, table, self.project, self)
            found.append(artifact)
        return found

    def get(self, name: str, alias: str = LATEST) -> Artifact:
        """One version, by ``v3`` or by alias (``latest`` by default)."""
        checked_name("name", name)
        checked_name("alias", alias)
        table = self._aliases(name)
        match = _VERSION.fullmatch(alias)
        if match is not None:
            number = int(match.group(1))
        elif alias in table:
            number = table[alias]
        elif not table and not self._versions(name):
            raise Error(f"no artifact {self.project}/{name}")
        else:
            raise Error(f"artifact {self.project}/{name} has no alias {alias!r} (it has {', '.join(sorted(table))})")
        manifest = self._manifest(name, number)
        artifact = Artifact(manifest["name"], manifest["type"])
        fill(artifact, manifest, table, self.project, self)
        return artifact

    def materialise(self, digest: str, destination: str, what: str) -> None:
        """Copy a blob to ``destination``, checking its digest on the way; a damaged blob is an Error."""
        blob = self.blob_path(digest)
        if os.path.isfile(destination) and _file_digest(destination)[0] == digest:
            return
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        try:
            temporary, found, _ = _copy_hashing(blob, os.path.dirname(destination))
        except FileNotFoundError:
            raise Error(f"{what}: its stored copy {blob} is missing") from None
        if found != digest:
            os.unlink(temporary)
            raise Error(f"{what}: its stored copy {blob} is damaged (sha256 {found}, expected {digest})")
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)


def fill(artifact: Artifact, manifest: dict[str, Any], table: dict[str, int], project: str, store: BlobSource) -> None:
    """Make ``artifact`` the logged version ``manifest`` describes; ``store`` materialises its blobs."""
    number = manifest["version"]
    artifact.description, artifact.metadata = manifest.get("description"), manifest.get("metadata") or {}
    artifact._entries = {
        path: ArtifactEntry(path, ref=entry.get("ref"), digest=entry.get("digest"), size=entry.get("size", 0))
        for path, entry in manifest["files"].items()
    }
    artifact.project, artifact.version, artifact.digest = project, f"v{number}", manifest["digest"]
    artifact.aliases = sorted(alias for alias, version in table.items() if version == number)
    artifact.created_at, artifact.logged_by = manifest.get("created_at"), manifest.get("logged_by")
    artifact._store = store
    if artifact._staging is not None:
        artifact._staging.cleanup()
        artifact._staging = None


@contextlib.contextmanager
def _exclusive(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while versions of one name are decided."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse_reference(reference: str, default_project: str) -> tuple[str, str, str]:
    """``[entity/][project/]name[:alias]`` -> (project, name, alias), each validated."""
    if not isinstance(reference, str) or not reference:
        raise UsageError(f"artifact {reference!r} must be 'name', 'name:alias' or 'project/name:alias'")
    path, _, alias = reference.partition(":")
    parts = path.split("/")
    if len(parts) > 3:
        raise UsageError(f"artifact {reference!r} must be 'name', 'name:alias' or 'project/name:alias'")
    project = _validate.identifier(f"artifact {reference!r}: project", parts[-2]) if len(parts) > 1 else default_project
    return (
        project,
        checked_name(f"artifact {reference!r}: name", parts[-1]),
        checked_name(f"artifact {reference!r}: alias", alias or LATEST),
    )


def code_files(root: str, include: Callable[[str, str], bool], exclude: Callable[[str, str], bool]) -> Iterator[str]:
    """Files under ``root`` that ``include`` keeps and ``exclude`` does not (both get (path, root))."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not exclude(os.path.join(directory, name), root))
        for name in sorted(files):
            path = os.path.join(directory, name)
            if include(path, root) and not exclude(path, root):
                yield path


_SKIPPED_DIRS = frozenset({".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", _layout.STORE_DIRNAME})


def default_exclude(path: str, root: str) -> bool:
    """Version control, virtual environments, caches and run stores are not code."""
    return any(part in _SKIPPED_DIRS or part.startswith(".") for part in os.path.relpath(path, root).split(os.sep))


def default_include(path: str, root: str) -> bool:
    return path.endswith(".py")


def record_lineage(run_directory: str, use: str, artifact: Artifact) -> None:
    """Append one line to the run's artifacts.jsonl: which version it ``logged`` or ``used``."""
    line = orjson.dumps(
        {
            "use": use,
            "project": artifact.project,
            "name": artifact.name,
            "version": artifact.version,
            "type": artifact.type,
            "digest": artifact.digest,
            "aliases": artifact.aliases,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )
    fd = os.open(os.path.join(run_directory, _layout.ARTIFACTS_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        write_all(fd, line)
    finally:
        os.close(fd)


def lineage(run_directory: str) -> list[dict[str, Any]]:
    """The run's artifacts.jsonl records that are whole and well-formed, in order."""
    try:
        with open(os.path.join(run_directory, _layout.ARTIFACTS_FILE), "rb") as handle:
            lines = handle.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        with contextlib.suppress(orjson.JSONDecodeError):
            record = orjson.loads(line)
            if (
                isinstance(record, dict)
                and record.get("use") in ("logged", "used")
                and _NAME.fullmatch(str(record.get("name")))
            ):
                found.append(record)
    return found
