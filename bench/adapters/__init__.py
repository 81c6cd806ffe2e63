"""Registry of tool adapters, loaded lazily so a missing peer never breaks the others."""

from __future__ import annotations

from importlib import import_module

from bench.adapters.base import Adapter

BASELINE = "tracker"
_ADAPTERS: dict[str, str] = {
    "tracker": "bench.adapters.tracker_adapter:TrackerAdapter",
    "wandb": "bench.adapters.wandb_adapter:WandbAdapter",
    "trackio": "bench.adapters.trackio_adapter:TrackioAdapter",
    "mlflow": "bench.adapters.mlflow_adapter:MlflowAdapter",
}
TOOLS: tuple[str, ...] = tuple(_ADAPTERS)


def get_adapter(name: str) -> Adapter:
    """A fresh adapter for the named tool (importing the adapter module, not the tool itself)."""
    module_name, _, class_name = _ADAPTERS[name].partition(":")
    adapter: Adapter = getattr(import_module(module_name), class_name)()
    return adapter
