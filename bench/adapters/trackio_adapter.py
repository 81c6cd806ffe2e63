"""Adapter for trackio writing to its local SQLite store (TRACKIO_DIR under the benchmark root)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bench.adapters.base import InitContractAdapter, Row

_CHUNK = 10_000


class TrackioAdapter(InitContractAdapter):
    name = "trackio"
    import_name = "trackio"
    dist_name = "trackio"

    def env(self, root: Path) -> dict[str, str]:
        # trackio reads TRACKIO_DIR once, at import time.
        return {"TRACKIO_DIR": str(root), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}

    def init_kwargs(self, root: Path, project: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"project": project, "config": config}

    def finish(self, run: Any) -> None:
        self.module.finish()  # the module-level call also clears trackio's current-run context

    @property
    def _storage(self) -> Any:
        from trackio.sqlite_storage import SQLiteStorage

        return SQLiteStorage

    def read_history(self, root: Path, project: str, run_id: str) -> list[Row]:
        rows: list[Row] = self._storage.get_logs(project, run_id=run_id)
        for row in rows:
            row["_step"] = row.pop("step")
        return rows

    def list_runs(self, root: Path, project: str) -> list[str]:
        return [str(run.id) for run in self.module.Api().runs(project)]

    # trackio's own batch writer (what its background thread calls) is its cheapest path.
    def write_history_fixture(
        self, root: Path, project: str, steps: int, keys: list[str], deadline: float
    ) -> tuple[str, int]:
        run_id = uuid.uuid4().hex
        written = 0
        while written < steps and time.monotonic() <= deadline:
            n = min(_CHUNK, steps - written)
            batch = [dict.fromkeys(keys, float(s)) for s in range(written, written + n)]
            self._storage.bulk_log(
                project, "history-fixture", batch, steps=list(range(written, written + n)), run_id=run_id
            )
            written += n
        return run_id, written

    def create_runs_fixture(self, root: Path, project: str, count: int, deadline: float) -> int:
        for made in range(count):
            if time.monotonic() > deadline:
                return made
            self._storage.bulk_log(
                project,
                f"run-{made}",
                [{"x": 1.0}],
                steps=[0],
                run_id=uuid.uuid4().hex,
                config={"fixture": "runs", "index": made},
            )
        return count
