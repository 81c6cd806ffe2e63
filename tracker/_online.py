"""Online mode: the tracking server as a second home for a run, fed from its journal by one background thread.

The run directory stays the write-ahead log: log() never touches the network. A thread tails the journal
and ships it in batches tagged with the journal's id and byte offsets, so a retried batch is acknowledged
once and ``tracker sync`` can finish what a run cut off from its server left. A server that is down or
restarts costs nothing: the thread retries with exponential back-off and jitter, from where the server is.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tracker import _credentials, _layout, _logs, _redact, console
from tracker._errors import Error, UsageError
from tracker._http import Client, Response, ServerUnreachable
from tracker._journal import decode_record
from tracker._summary import SummaryState

MAX_BATCH_BYTES = 4 * 1024 * 1024
_BACKLOG_BYTES = MAX_BATCH_BYTES // 4
_POLL_S = 0.2
_BACKOFF_S = (0.2, 30.0)
_MATERIALIZED = (("run", _layout.RUN_FILE), ("config", _layout.CONFIG_FILE), ("metadata", _layout.METADATA_FILE))
# what of a run directory is uploaded as files (names relative to the run directory)
UPLOADED = (
    _layout.FILES_DIR,
    _layout.MEDIA_DIR,
    _layout.LOGS_DIR,
    "output.log",
    "system.jsonl",
    _layout.ARTIFACTS_FILE,
)
_FILE_SCAN_S = 2.0


class UploadRefused(Error):
    """The server will not take this run (key revoked, entity not ours, malformed batch): retrying cannot help."""


@dataclass(frozen=True)
class Remote:
    """A reachable server and a key it accepted, writing as ``entity``."""

    base_url: str
    api_key: str
    entity: str

    def client(self, timeout: float = 10.0) -> Client:
        return Client(self.base_url, self.api_key, timeout=timeout)

    def run_path(self, project: str, run_id: str) -> str:
        return f"/api/runs/{self.entity}/{project}/{run_id}"


def connect(
    base_url: str | None, api_key: str | None, *, entity: str | None, anonymous: str | None, force: bool
) -> Remote | None:
    """Check the server and key at init(): a Remote, or None to run offline (one warning), or Error when forced.

    A key that cannot write to ``entity`` is a UsageError naming both, whatever ``force`` says.
    """
    base_url, api_key = _credentials.configured_server(base_url, api_key)
    _redact.add_secret(api_key)  # kept out of every debug log, whatever message quotes it
    problem, viewer = None, None
    if base_url is None:
        problem = "no tracking server is configured (set TRACKER_BASE_URL, or run `tracker login`)"
    else:
        try:
            if anonymous == "must" or (anonymous == "allow" and api_key is None):
                api_key, problem = _anonymous_key(base_url)
            if problem is None and api_key is None:
                problem = f"no API key for {base_url} (set TRACKER_API_KEY, or run `tracker login`)"
            if problem is None:
                answer = Client(base_url, api_key, timeout=5).get("/api/viewer")
                if answer.status == 200:
                    viewer = answer.body
                else:
                    problem = f"{base_url} refused the API key ({answer.detail()})"
        except ServerUnreachable as error:
            problem = str(error)
    if problem is not None or viewer is None or api_key is None or base_url is None:
        if force:
            raise Error(f"mode='online' with force=True, but {problem}; nothing was written")
        _logs.before_run("warning", "online.fallback", base_url=base_url, problem=problem)
        console.warn(f"mode='online': {problem}; this run is stored offline (upload it later with `tracker sync`)")
        return None
    chosen = entity or viewer["entity"]
    if chosen not in viewer["entities"]:
        raise UsageError(
            f"entity={chosen!r}: the API key of {viewer['user']!r} cannot write to it "
            f"(it can write to {', '.join(viewer['entities'])})"
        )
    _logs.before_run("info", "online.connected", base_url=base_url, entity=chosen, user=viewer.get("user"))
    return Remote(base_url, api_key, chosen)


def _anonymous_key(base_url: str) -> tuple[str | None, str | None]:
    """(a new anonymous key, stored like any login) or (None, why the server refused one)."""
    answer = Client(base_url, None, timeout=5).request("POST", "/api/anonymous")
    if answer.status != 200:
        return None, f"{base_url} does not accept anonymous runs ({answer.detail()})"
    _credentials.store(base_url, answer.body["key"], answer.body["entity"])
    _redact.add_secret(answer.body["key"])
    return answer.body["key"], None


def server_run(remote: Remote, project: str, run_id: str) -> dict[str, Any] | None:
    """The server's view of a run (for resuming on another node), or None when it has none."""
    answer = remote.client(timeout=10).get(remote.run_path(project, run_id))
    if answer.status == 404:
        return None
    if answer.status != 200:
        raise Error(f"{remote.base_url} could not say whether run {project}/{run_id} exists ({answer.detail()})")
    return answer.body


def uploaded_files(run_directory: str) -> dict[str, str]:
    """Name (relative to the run directory) -> path, of everything of a run that is uploaded as a file
    (and that the dashboard lists, for a local run as for a server's)."""
    found = {}
    for entry in UPLOADED:
        top = os.path.join(run_directory, entry)
        if os.path.isfile(top):
            found[entry] = top
        for directory, _, names in os.walk(top):
            for name in names:
                if not name.endswith(".tmp"):
                    path = os.path.join(directory, name)
                    found[os.path.relpath(path, run_directory)] = path
    return found


class Uploader:
    """Ships one run's journal, and its materialized files, from where the server has it."""

    def __init__(
        self,
        client: Client,
        path: str,
        paths: _layout.RunPaths,
        journal_id: str,
        *,
        state: str | None = None,
        live_summary: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``state`` None: the live process's uploader (its batches are heartbeats); else tracker sync's,
        which tells the server what the run is now (e.g. crashed) without claiming it is alive.

        ``live_summary`` gives the running process's own summary: then lines are shipped as they are (the
        process wrote them whole), not decoded and folded again, which keeps this thread off the GIL.
        """
        self.client, self.path, self.paths, self.journal_id = client, path, paths, journal_id
        self._state = state
        self._live_summary = live_summary
        self._validate = live_summary is None  # a server that refuses a batch makes a live uploader validate
        self.offset: int | None = None
        self.summary = SummaryState()
        self._folded_to = 0
        self._sent: dict[str, tuple[int, int]] = {}
        self._remote_files: dict[str, Any] | None = None
        self._exists = False  # the server has the run (files can only be added to a run it has)
        self._file_signatures: dict[str, tuple[int, int]] = {}
        self._artifacts: Any = None  # an ArtifactShipper once the run logs an artifact

    def start(self) -> None:
        """Ask the server how far it has this journal (0 for a run it does not know)."""
        answer = self.client.get(self.path)
        if answer.status == 404:
            self._remote_files = {}  # a run the server does not have has no files there either
            self._move_to(0)
            return
        self._check(answer)
        self._exists = True
        self._move_to(int((answer.body.get("journals") or {}).get(self.journal_id, 0)))

    def _move_to(self, offset: int) -> None:
        if offset < self._folded_to:  # the server is behind what we folded: fold again from the start
            self.summary, self._folded_to = SummaryState(), 0
        self.offset = offset
        if self._live_summary is None and offset > self._folded_to:
            for line in self._read(self._folded_to, offset)[0].split(b"\n")[:-1]:
                self._fold(line)
            self._folded_to = offset

    def _fold(self, line: bytes) -> None:
        record = decode_record(line)
        if record is not None:
            self.summary.fold(record)

    def _read(self, start: int, stop: int | None) -> tuple[bytes, int]:
        """Whole journal lines from ``start`` (to ``stop``, or at most one batch), as read, and where they end."""
        try:
            with open(self.paths.history, "rb") as handle:
                # read exactly what is there: a larger read buffer would be shrunk (copied) afterwards
                size = os.fstat(handle.fileno()).st_size - start
                handle.seek(start)
                data = handle.read(max(0, min(size, MAX_BATCH_BYTES if stop is None else stop - start)))
        except FileNotFoundError:
            return b"", start
        end = data.rfind(b"\n") + 1
        return data if end == len(data) else data[:end], start + end

    def pending(self) -> int:
        """Bytes of whole records the server does not have yet."""
        try:
            size = os.stat(self.paths.history).st_size
        except FileNotFoundError:
            return 0
        return max(0, size - (self.offset or 0))

    def _changed_files(self) -> dict[str, tuple[Any, tuple[int, int]]]:
        changed = {}
        for field, name in _MATERIALIZED:
            path = os.path.join(self.paths.directory, name)
            try:
                status = os.stat(path)
                signature = (status.st_ino, status.st_mtime_ns)
                if self._sent.get(field) != signature:
                    with open(path, "rb") as handle:
                        value = orjson.loads(handle.read())
                    if field == "run" and self._state is not None and isinstance(value, dict):
                        value["state"] = self._state
                    changed[field] = (value, signature)
            except (OSError, orjson.JSONDecodeError):
                continue
        return changed

    def send(self, *, heartbeat: bool = False) -> bool:
        """Send the next batch (or, with nothing new, a heartbeat when asked); True if the server took one."""
        if self.offset is None:
            self.start()
        assert self.offset is not None
        data, end = self._read(self.offset, None)
        files = self._changed_files()
        if end == self.offset and not files and not heartbeat:
            return False
        if self._validate or b"\n\n" in data or data.startswith(b"\n"):
            lines = [line for line in data.split(b"\n") if line]
            good = [line for line in lines if decode_record(line) is not None] if self._validate else lines
            records: bytes | memoryview = b",".join(good)  # bad lines stay local
        else:  # the live process wrote each line whole: ship them as read, one C pass, no decoding or copy
            good, records = [], memoryview(data.replace(b"\n", b","))[:-1]
        if self._live_summary is not None:
            summary = self._live_summary()
        else:
            if end > self._folded_to:
                for line in good:
                    self._fold(line)
                self._folded_to = end
            summary = self.summary.values
        parts: list[bytes | memoryview] = [
            b'{"live":',
            b"true" if self._state is None else b"false",
            b',"journal_id":',
            orjson.dumps(self.journal_id),
            b',"offset":%d,"end":%d,"records":[' % (self.offset, end),
            records,
            b'],"summary":',
            orjson.dumps(summary, option=orjson.OPT_SERIALIZE_NUMPY),
        ]
        for field, (value, _) in files.items():
            parts += [b',"%s":' % field.encode(), orjson.dumps(value)]
        answer = self.client.post(f"{self.path}/batches", b"".join([*parts, b"}"]))
        if answer.status == 409:
            self._move_to(int(answer.body["end"]))
            return True
        if answer.status == 400 and not self._validate:  # a damaged line: send again without it
            self._validate = True
            return True
        self._check(answer)
        self._exists = True
        self.offset = end
        self._sent.update({field: signature for field, (_, signature) in files.items()})
        return True

    def _check(self, answer: Response) -> None:
        if answer.status >= 500:
            raise ServerUnreachable(f"{self.client.base_url} failed ({answer.detail()})")
        if answer.status != 200:
            raise UploadRefused(f"{self.client.base_url} refused run {self.path} ({answer.detail()})")

    def send_files(self) -> int:
        """Upload the files that changed since last time (or that the server does not have); how many."""
        import hashlib
        import urllib.parse

        if not self._exists:
            return 0
        if self._remote_files is None:
            answer = self.client.get(f"{self.path}/files")
            self._remote_files = answer.body["files"] if answer.status == 200 else {}
        sent = 0
        for name, path in sorted(uploaded_files(self.paths.directory).items()):
            try:
                status = os.stat(path)
                signature = (status.st_size, status.st_mtime_ns)
                if self._file_signatures.get(name) == signature:
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue  # removed meanwhile
            known = self._remote_files.get(name)
            if not (known and known["size"] == len(data) and known["sha256"] == hashlib.sha256(data).hexdigest()):
                answer = self.client.request("PUT", f"{self.path}/files/{urllib.parse.quote(name)}", data)
                self._check(answer)
                sent += 1
            self._file_signatures[name] = signature
        self._send_artifacts()
        return sent

    def _send_artifacts(self) -> None:
        """Ship the artifact versions the run logged (imported only once it has logged one)."""
        if self._artifacts is None:
            if not os.path.exists(os.path.join(self.paths.directory, _layout.ARTIFACTS_FILE)):
                return
            from tracker._artifact_remote import ArtifactShipper

            entity = self.path.split("/")[3]  # /api/runs/<entity>/<project>/<run id>
            self._artifacts = ArtifactShipper(self.client, entity, self.paths.directory)
        self._artifacts.send()

    @property
    def artifacts_refused(self) -> list[str]:
        """Why the server refused artifact versions of this run (each was skipped)."""
        return list(self._artifacts.refused) if self._artifacts is not None else []

    def upload_all(self) -> None:
        """Send everything there is now: the journal, the materialized files, the run's files (tracker sync)."""
        while self.send() and self.pending():
            pass
        self.send_files()


class Streamer:
    """The one background thread of an online run: tails the journal, ships it, says the run is alive."""

    def __init__(
        self,
        remote: Remote,
        project: str,
        run_id: str,
        paths: _layout.RunPaths,
        journal_id: str,
        heartbeat_interval: float,
        live_summary: Callable[[], dict[str, Any]],
    ) -> None:
        self._remote, self._path, self._paths, self._journal_id = (
            remote,
            remote.run_path(project, run_id),
            paths,
            journal_id,
        )
        self._heartbeat = heartbeat_interval
        self._live_summary = live_summary
        self._wake = threading.Event()
        self._done = threading.Event()
        self._finishing = False
        self._uploader: Uploader | None = None
        self.refused: str | None = None
        self.debug: _logs.DebugLog | None = None  # the run's debug log, set by the run it serves
        self._thread = threading.Thread(target=self._loop, name="tracker-upload", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        uploader = self._uploader = Uploader(
            self._remote.client(), self._path, self._paths, self._journal_id, live_summary=self._live_summary
        )
        delay, last_sent, files_scanned = _BACKOFF_S[0], 0.0, 0.0
        while True:
            try:
                if (self._finishing and not uploader.pending()) or time.monotonic() - files_scanned >= _FILE_SCAN_S:
                    uploader.send_files()
                    files_scanned = time.monotonic()
                due = time.monotonic() - last_sent >= self._heartbeat
                if uploader.send(heartbeat=due or self._finishing):
                    last_sent, delay = time.monotonic(), _BACKOFF_S[0]
                    if self.debug is not None and self.debug.enabled("debug"):
                        self.debug.debug("online.batch", offset=uploader.offset, heartbeat=due)
                    if uploader.pending() >= (1 if self._finishing else _BACKLOG_BYTES):
                        continue  # behind: catch up at once; else let rows gather for one poll (fewer batches)
                if self._finishing and not uploader.pending() and not uploader._changed_files():
                    uploader.send_files()  # the last files (saved at finish) after the last records
                    break
                self._wake.wait(_POLL_S)
            except ServerUnreachable as error:
                wait = delay * (0.5 + random.random())  # back off, with jitter against thundering herds
                if self.debug is not None:
                    self.debug.warning("online.retry", error=str(error), wait_s=round(wait, 3))
                self._wake.wait(wait)
                delay = min(delay * 2, _BACKOFF_S[1])
            except UploadRefused as error:
                self.refused = str(error)
                break
            except Exception as error:  # the run goes on offline; tracker sync can finish the upload
                self.refused = f"{type(error).__name__}: {error}"
                break
            self._wake.clear()
        if self.debug is not None:
            self.debug.event(
                "error" if self.refused else "info", "online.stopped", refused=self.refused, offset=uploader.offset
            )
        uploader.client.close()
        self._done.set()

    def finish(self, timeout: float, *, silent: bool, name: str) -> None:
        """Wait (up to ``timeout``) for the rest of the journal to reach the server; say what is left if not."""
        self._finishing = True
        self._wake.set()
        uploader = self._uploader
        left = uploader.pending() if uploader is not None else 0
        if left and not self._done.is_set():
            console.info(f"run {name}: uploading {left / 1024:.0f} KiB to {self._remote.base_url}", silent=silent)
        self._done.wait(timeout)
        for problem in uploader.artifacts_refused if uploader is not None else ():
            console.warn(f"run {name}: {problem}; it stays in the local store")
        if self.refused is not None:
            console.warn(
                f"run {name}: the upload stopped ({self.refused}); the run is complete on disk, "
                "upload it with `tracker sync`"
            )
        elif not self._done.is_set():
            console.warn(
                f"run {name}: {self._remote.base_url} did not take the whole run within {timeout:g} s; "
                "it is complete on disk: upload the rest with `tracker sync`"
            )
