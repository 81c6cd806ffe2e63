"""A local-first run tracker with the documented ``wandb.init()`` contract.

>>> import tracker
>>> run = tracker.init(project="demo", mode="disabled")
>>> run.log({"loss": 0.5})
>>> run.finish()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from tracker import _process
from tracker._errors import ConfigError, Error, StorageError, UsageError
from tracker._init import init
from tracker._run import Run
from tracker._settings import Settings
from tracker._setup import login, setup, teardown

if TYPE_CHECKING:
    from tracker._api import Api
    from tracker._artifacts import Artifact
    from tracker._media import Audio, Histogram, Html, Image, Table, Video

    run: Run | None  # the current run (set by init(), cleared by its finish()), owned by tracker._process

# rich data types: their module loads on first use, and their encoders (numpy, Pillow, imageio) only when made
_MEDIA_TYPES = frozenset({"Audio", "Histogram", "Html", "Image", "Table", "Video"})

# wandb's submodules scripts reach as attributes: tracker.util.generate_id, tracker.tensorboard.patch
_SUBMODULES = {"util": "tracker.util", "tensorboard": "tracker.integrations.tensorboard"}

__version__ = "0.1.0"


def _current() -> Run:
    run = _process.current()
    if run is None:
        raise Error("no active run: call tracker.init() first")
    return cast(Run, run)


def log(data: Any, step: int | None = None, commit: bool | None = None) -> None:
    """Log to the current run; see Run.log."""
    _current().log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any (a no-op without one, as in wandb)."""
    run = _process.current()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def define_metric(name: str, **kwargs: Any) -> None:
    _current().define_metric(name, **kwargs)


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
    return _current().save(glob_str, base_path=base_path, policy=policy)


def mark_preempting() -> None:
    _current().mark_preempting()


def log_artifact(
    artifact_or_path: Any, name: str | None = None, type: str | None = None, aliases: list[str] | None = None
) -> Any:
    """Log an artifact to the current run; see Run.log_artifact."""
    return _current().log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None) -> Any:
    """Record an artifact as an input of the current run; see Run.use_artifact."""
    return _current().use_artifact(artifact_or_name, type=type, aliases=aliases)


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """Fetch a file saved with a run (``run.save``) into ``root`` and open it for reading (as wandb.restore)."""
    from tracker._api import restore as restore_file

    current = cast(Run | None, _process.current())
    return restore_file(name, run_path=run_path, replace=replace, root=root, current=current)


class _CurrentRunAttribute:
    """``tracker.config`` / ``tracker.summary``: forward to the current run's object, or say to call init()."""

    __slots__ = ("_attribute",)

    def __init__(self, attribute: str) -> None:
        object.__setattr__(self, "_attribute", attribute)

    def _target(self) -> Any:
        return getattr(_current(), self._attribute)

    def __getattr__(self, key: str) -> Any:
        # an AttributeError without a run, so probes (hasattr, doctest, inspect) see a missing attribute
        if _process.current() is None:
            raise AttributeError(f"tracker.{self._attribute}.{key}: no active run (call tracker.init() first)")
        return getattr(self._target(), key)

    def __setattr__(self, key: str, value: Any) -> None:
        setattr(self._target(), key, value)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __iter__(self) -> Any:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __repr__(self) -> str:
        if _process.current() is None:
            return f"<tracker.{self._attribute} (no active run)>"
        return repr(self._target())


config: Any = _CurrentRunAttribute("config")
summary: Any = _CurrentRunAttribute("summary")


def __getattr__(name: str) -> Any:
    if name == "run":  # the current run (set by init(), cleared by its finish()), or None
        return _process.current()
    if name == "Api":  # the reader is not needed by training processes; import it on first use
        from tracker._api import Api

        return Api
    if name == "Artifact":
        from tracker._artifacts import Artifact

        return Artifact
    if name in _SUBMODULES:  # imported on first use, like the media types
        import importlib

        return importlib.import_module(_SUBMODULES[name])
    if name in _MEDIA_TYPES:
        from tracker import _media

        return getattr(_media, name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")


__all__ = [
    "Api",
    "Artifact",
    "Audio",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Run",
    "Settings",
    "StorageError",
    "Table",
    "UsageError",
    "Video",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "mark_preempting",
    "restore",
    "run",
    "save",
    "setup",
    "summary",
    "teardown",
    "use_artifact",
]
