"""Adapter for mlflow with its default local store (mlflow 3.x: `sqlite:///mlflow.db` in the working dir)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.adapters.base import Adapter, Metrics, Row

_BATCH = 1000  # mlflow's limit of metrics per log_batch call


class MlflowAdapter(Adapter):
    name = "mlflow"
    import_name = "mlflow"
    dist_name = "mlflow"

    @staticmethod
    def tracking_uri(root: Path) -> str:
        # mlflow 3.x defaults to sqlite:///mlflow.db relative to the working directory (it falls back
        # to ./mlruns only when an old file store already exists there); pin it to root explicitly.
        return f"sqlite:///{root / 'mlflow.db'}"

    def env(self, root: Path) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.tracking_uri(root), "MLFLOW_DISABLE_TELEMETRY": "true"}

    def prepare(self, root: Path) -> None:
        self.module.set_tracking_uri(self.tracking_uri(root))

    def _client(self) -> Any:
        return self.module.MlflowClient()

    def _experiment_id(self, project: str) -> str:
        return str(self.module.set_experiment(project).experiment_id)

    def init(self, root: Path, project: str, config: dict[str, Any]) -> Any:
        self.module.set_experiment(project)
        run = self.module.start_run()
        if config:
            self.module.log_params(config)
        return run

    def run_id(self, run: Any) -> str:
        return str(run.info.run_id)

    def log(self, run: Any, metrics: Metrics, step: int) -> None:
        self.module.log_metrics(metrics, step=step)  # without step= every call would land on step 0

    def finish(self, run: Any) -> None:
        self.module.end_run()

    def read_history(self, root: Path, project: str, run_id: str) -> list[Row]:
        client = self._client()
        by_step: dict[int, Row] = {}
        for key in client.get_run(run_id).data.metrics:
            for point in client.get_metric_history(run_id, key):
                by_step.setdefault(point.step, {"_step": point.step})[key] = point.value
        return [by_step[step] for step in sorted(by_step)]

    def list_runs(self, root: Path, project: str) -> list[str]:
        client = self._client()
        experiment = client.get_experiment_by_name(project)
        if experiment is None:
            return []
        ids: list[str] = []
        token: str | None = None
        while True:
            page = client.search_runs([experiment.experiment_id], max_results=50_000, page_token=token)
            ids.extend(run.info.run_id for run in page)
            token = page.token
            if not token:
                return ids

    # mlflow's cheapest writing path is the client's log_batch (up to 1000 metrics per call).
    def write_history_fixture(
        self, root: Path, project: str, steps: int, keys: list[str], deadline: float
    ) -> tuple[str, int]:
        from mlflow.entities import Metric

        client = self._client()
        run_id = str(client.create_run(self._experiment_id(project)).info.run_id)
        per_call = max(1, _BATCH // len(keys))
        written, now_ms = 0, int(time.time() * 1000)
        while written < steps and time.monotonic() <= deadline:
            upto = min(steps, written + per_call)
            batch = [Metric(k, float(s), now_ms, s) for s in range(written, upto) for k in keys]
            client.log_batch(run_id, metrics=batch, synchronous=True)
            written = upto
        client.set_terminated(run_id)
        return run_id, written

    def create_runs_fixture(self, root: Path, project: str, count: int, deadline: float) -> int:
        from mlflow.entities import Metric

        client = self._client()
        experiment_id = self._experiment_id(project)
        for made in range(count):
            if time.monotonic() > deadline:
                return made
            run_id = client.create_run(experiment_id).info.run_id
            client.log_batch(run_id, metrics=[Metric("x", 1.0, int(time.time() * 1000), 0)])
            client.set_terminated(run_id)
        return count
