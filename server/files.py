"""Files uploaded with a run (saved files, code, media), kept on the server's disk under one folder per run.

A name is a plain relative path: no absolute path, no ``..``, no empty or dot-only part, no backslash or
control character; the resolved location is checked to stay inside the run's folder all the same.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from tracker.atomic import write_atomic

MAX_NAME = 1024


def checked_name(name: str) -> str:
    """The normalised relative path, or ValueError naming what is wrong with it."""
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"file name must have 1 to {MAX_NAME} characters")
    if name.startswith("/") or "\\" in name or any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise ValueError(f"file name {name!r} must be a relative path without backslashes or control characters")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"file name {name!r} must not have empty, '.' or '..' parts")
    return "/".join(parts)


class RunFiles:
    """The uploaded files of every run, under ``root/<run primary key>/``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        # path -> (size, mtime_ns, sha256): a listing hashes only what changed since this process last looked
        self._digests: dict[str, tuple[int, int, str]] = {}

    def _path(self, run_pk: int, name: str) -> str:
        folder = os.path.join(self.root, str(run_pk))
        path = os.path.realpath(os.path.join(folder, checked_name(name)))
        if not path.startswith(os.path.realpath(folder) + os.sep):
            raise ValueError(f"file name {name!r} leaves its run")
        return path

    def store(self, run_pk: int, name: str, data: bytes) -> tuple[str, dict[str, Any]]:
        path = self._path(run_pk, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data)
        digest = hashlib.sha256(data).hexdigest()
        status = os.stat(path)
        self._digests[path] = (status.st_size, status.st_mtime_ns, digest)
        return checked_name(name), {"size": len(data), "sha256": digest}

    def read(self, run_pk: int, name: str) -> bytes | None:
        try:
            with open(self._path(run_pk, name), "rb") as handle:
                return handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def locate(self, run_pk: int, name: str) -> str | None:
        """Where a stored file is on disk (None when there is none); ValueError for a name that is not plain."""
        path = self._path(run_pk, name)
        return path if os.path.isfile(path) else None

    def paths(self, run_pk: int) -> dict[str, str]:
        """Name -> path of every stored file of a run (temp files of a write under way left out)."""
        folder = os.path.join(self.root, str(run_pk))
        return {
            os.path.relpath(os.path.join(directory, name), folder): os.path.join(directory, name)
            for directory, _, names in os.walk(folder)
            for name in names
            if not name.endswith(".tmp")
        }

    def list(self, run_pk: int) -> dict[str, dict[str, Any]]:
        found = {}
        for name, path in self.paths(run_pk).items():
            try:
                size, digest = self._digest(path)
            except FileNotFoundError:  # replaced or removed meanwhile
                continue
            found[name] = {"size": size, "sha256": digest}
        return found

    def _digest(self, path: str) -> tuple[int, str]:
        status = os.stat(path)
        known = self._digests.get(path)
        if known is not None and known[:2] == (status.st_size, status.st_mtime_ns):
            return known[0], known[2]
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        self._digests[path] = (status.st_size, status.st_mtime_ns, digest)
        return status.st_size, digest
