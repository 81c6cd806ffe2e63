"""Adapter for wandb in offline mode; reads back its offline `.wandb` files with wandb's own protobufs."""

from __future__ import annotations

from pathlib import Path

from bench.adapters import wandb_records
from bench.adapters.base import InitContractAdapter, Row


class WandbAdapter(InitContractAdapter):
    name = "wandb"
    import_name = "wandb"
    dist_name = "wandb"

    def env(self, root: Path) -> dict[str, str]:
        return {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(root),
            "WANDB_CONFIG_DIR": str(root / ".wandb-config"),
            "WANDB_CACHE_DIR": str(root / ".wandb-cache"),
            "WANDB_DATA_DIR": str(root / ".wandb-data"),
        }

    def download_artifact(self, root: Path, project: str, name: str, target: Path) -> None:
        raise NotImplementedError("wandb offline: artifacts are only downloadable from a wandb server")

    @staticmethod
    def _run_files(root: Path) -> list[Path]:
        return sorted((root / "wandb").glob("offline-run-*/run-*.wandb"))

    def read_history(self, root: Path, project: str, run_id: str) -> list[Row]:
        matches = sorted((root / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
        if not matches:
            return []
        return wandb_records.history_rows(matches[-1])

    def list_runs(self, root: Path, project: str) -> list[str]:
        """There is no offline listing API: scan the run directories and read each run record."""
        ids = []
        for path in self._run_files(root):
            info = wandb_records.run_record(path)
            if info is not None and info["project"] == project:
                ids.append(str(info["id"]))
        return ids
