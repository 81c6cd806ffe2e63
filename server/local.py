"""`tracker ui`'s data: the local store mirrored into a private SQLite file through the server's own ingest path.

Each run's journal is read from where the mirror has it (the Uploader of online mode, talking to the
ingest functions in-process instead of over HTTP), so the dashboard reads local runs exactly as it reads a
team server's, and a background thread re-scans so running runs grow live.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import update

import tracker
from server import accounts, ingest
from server.db import Store
from server.schema import runs
from tracker import _layout, console
from tracker._http import Response
from tracker._online import Uploader

LOCAL_ENTITY = "local"


class _InProcess:
    """The two requests an Uploader makes (run position, batch), answered by the ingest functions directly."""

    base_url = "tracker ui"

    def __init__(self, store: Store, entity_id: int) -> None:
        self.store, self.entity_id = store, entity_id
        self.run_pks: dict[str, int] = {}

    def get(self, path: str, **_: Any) -> Response:
        from server.schema import journal_cursors

        run_pk = self.run_pks.get(path)
        if run_pk is None:
            return Response(404, {"detail": "not mirrored yet"})
        with self.store.reading() as connection:
            cursors = connection.execute(journal_cursors.select().where(journal_cursors.c.run_pk == run_pk)).all()
        return Response(200, {"journals": {cursor.journal_id: cursor.end_offset for cursor in cursors}})

    def post(self, path: str, body: bytes) -> Response:
        run_path = path.removesuffix("/batches")
        _, _, _, _, project, run_id = run_path.split("/")
        try:
            batch = ingest.parse(body)
            prepared = ingest.prepare(batch)
            with self.store.writing() as connection:
                outcome = ingest.apply(connection, self.entity_id, project, run_id, batch, prepared)
        except ingest.BatchError as error:
            return Response(400, {"detail": str(error)})
        self.run_pks[run_path] = outcome.run_pk
        return Response(409 if outcome.status == "gap" else 200, {"status": outcome.status, "end": outcome.end})

    def close(self) -> None:
        """Nothing to close: there is no connection."""


class LocalMirror:
    """Keeps the private database up to date with the runs under ``directory``."""

    def __init__(self, store: Store, directory: str | None) -> None:
        self.store, self.directory = store, directory
        with store.writing() as connection:
            accounts.add_user(connection, LOCAL_ENTITY)
            entity_id = accounts.entity_id(connection, LOCAL_ENTITY)
        self._client = _InProcess(store, entity_id)
        self._uploaders: dict[str, Uploader] = {}
        self._states: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scan(self) -> int:
        """Mirror what is new in every run (journal, run.json, config, metadata, state); how many runs there are."""
        found = tracker.Api(self.directory).runs(None)
        for run in found:
            path = f"/api/runs/{LOCAL_ENTITY}/{run.project}/{run.id}"
            uploader = self._uploaders.get(path)
            if uploader is None:
                journal_id = run._record.get("journal_id") or f"local-{run.id}"
                uploader = Uploader(self._client, path, _layout.RunPaths(run.directory), journal_id, state=run.state)  # type: ignore[arg-type]
                self._uploaders[path] = uploader
            while uploader.send() and uploader.pending():
                pass
            run_pk = self._client.run_pks.get(path)
            if run_pk is not None and self._states.get(path) != run.state:  # e.g. a process that died
                with self.store.writing() as connection:
                    connection.execute(update(runs).where(runs.c.id == run_pk).values(state=run.state))
                self._states[path] = run.state
        return len(found)

    def start(self, interval: float) -> None:
        """Scan now, then every ``interval`` seconds (at least twice a scan's time) in a daemon thread until stop()."""
        self.scan()

        def loop() -> None:
            took = 0.0
            while not self._stop.wait(max(interval, 2 * took)):  # a big store is scanned less often, not hotter
                started = time.monotonic()
                try:
                    self.scan()
                except Exception as error:  # a run being written or removed mid-scan: the next scan retries
                    console.warn(f"tracker ui: a scan of the store failed ({type(error).__name__}: {error})")
                took = time.monotonic() - started

        self._thread = threading.Thread(target=loop, name="tracker-ui-scan", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
