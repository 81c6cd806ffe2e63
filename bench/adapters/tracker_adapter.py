"""Adapter for this project's `tracker` package (the baseline every ratio is taken against)."""

from __future__ import annotations

from pathlib import Path

from bench.adapters.base import InitContractAdapter, Row


class TrackerAdapter(InitContractAdapter):
    name = "tracker"
    import_name = "tracker"
    dist_name = "tracker"

    def env(self, root: Path) -> dict[str, str]:
        return {"TRACKER_SILENT": "true"}

    def download_artifact(self, root: Path, project: str, name: str, target: Path) -> None:
        self.module.Api(dir=str(root)).artifact(f"{project}/{name}:latest").download(root=str(target))

    def read_history(self, root: Path, project: str, run_id: str) -> list[Row]:
        api = self.module.Api(dir=str(root))
        return list(api.run(f"{project}/{run_id}").history())

    def list_runs(self, root: Path, project: str) -> list[str]:
        return [str(run.id) for run in self.module.Api(dir=str(root)).runs(project)]
