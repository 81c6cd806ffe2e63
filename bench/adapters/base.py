"""Common interface of every tool adapter, with default fixture builders written against it."""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import ModuleType
from typing import Any

Metrics = dict[str, float]
Row = dict[str, Any]


class Adapter(ABC):
    """One tracking tool, driven the way its users drive it, writing under a given root directory."""

    name: str = ""
    import_name: str = ""  # what `python -c "import X"` imports
    dist_name: str = ""  # distribution whose version is reported

    def __init__(self) -> None:
        self._module: ModuleType | None = None

    @property
    def module(self) -> ModuleType:
        """The tool's top-level module, imported on first use."""
        if self._module is None:
            self._module = importlib.import_module(self.import_name)
        return self._module

    def env(self, root: Path) -> dict[str, str]:
        """Extra environment for a child process that writes under root (read before import)."""
        return {}

    def prepare(self, root: Path) -> None:
        """Import the tool and point it at root; called before anything is timed."""
        _ = self.module

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.dist_name)
        except PackageNotFoundError:
            return str(getattr(self.module, "__version__", "unknown (not pip-installed)"))

    # -- the writing path -------------------------------------------------------------------------
    @abstractmethod
    def init(self, root: Path, project: str, config: dict[str, Any]) -> Any: ...

    @abstractmethod
    def run_id(self, run: Any) -> str: ...

    @abstractmethod
    def log(self, run: Any, metrics: Metrics, step: int) -> None: ...

    @abstractmethod
    def finish(self, run: Any) -> None: ...

    # -- rich data (the media workload); a tool without them raises NotImplementedError ------------
    def image(self, array: Any) -> Any:
        """The tool's image object for an HxWx3 uint8 array, ready to pass to log()."""
        raise NotImplementedError(f"{self.name}: images are not driven by this benchmark")

    def log_artifact(self, run: Any, path: Path, name: str) -> None:
        """Log the file at ``path`` as a new artifact version named ``name``."""
        raise NotImplementedError(f"{self.name}: artifacts are not driven by this benchmark")

    def download_artifact(self, root: Path, project: str, name: str, target: Path) -> None:
        """Materialise the latest version of artifact ``name`` under ``target``."""
        raise NotImplementedError(f"{self.name}: artifacts cannot be downloaded here")

    # -- the reading path -------------------------------------------------------------------------
    @abstractmethod
    def read_history(self, root: Path, project: str, run_id: str) -> list[Row]:
        """Every logged step of one run, in step order, each row with a `_step` key."""

    @abstractmethod
    def list_runs(self, root: Path, project: str) -> list[str]:
        """Ids of every run of the project."""

    # -- fixtures for the reading workload (override where the tool has a cheaper path) ----------
    def write_history_fixture(
        self, root: Path, project: str, steps: int, keys: list[str], deadline: float
    ) -> tuple[str, int]:
        """Write one run of up to `steps` steps before `deadline` (monotonic); return (run id, steps)."""
        run = self.init(root, project, {"fixture": "history"})
        written = 0
        for step in range(steps):
            if step % 1000 == 0 and time.monotonic() > deadline:
                break
            self.log(run, dict.fromkeys(keys, float(step)), step)
            written += 1
        self.finish(run)
        return self.run_id(run), written

    def create_runs_fixture(self, root: Path, project: str, count: int, deadline: float) -> int:
        """Create up to `count` runs of one logged step each before `deadline`; return how many."""
        for made in range(count):
            if time.monotonic() > deadline:
                return made
            run = self.init(root, project, {"fixture": "runs", "index": made})
            self.log(run, {"x": 1.0}, 0)
            self.finish(run)
        return count


class InitContractAdapter(Adapter):
    """A tool with the wandb.init() contract: `mod.init(...) -> run`, `run.log(d)`, `run.finish()`."""

    def init_kwargs(self, root: Path, project: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"project": project, "dir": str(root), "mode": "offline", "config": config}

    def init(self, root: Path, project: str, config: dict[str, Any]) -> Any:
        return self.module.init(**self.init_kwargs(root, project, config))

    def run_id(self, run: Any) -> str:
        return str(run.id)

    def log(self, run: Any, metrics: Metrics, step: int) -> None:
        run.log(metrics)  # implicit, auto-incremented step: the common usage

    def finish(self, run: Any) -> None:
        run.finish()

    def image(self, array: Any) -> Any:
        return self.module.Image(array)

    def log_artifact(self, run: Any, path: Path, name: str) -> None:
        artifact = self.module.Artifact(name, type="dataset")
        artifact.add_file(str(path))
        run.log_artifact(artifact)
