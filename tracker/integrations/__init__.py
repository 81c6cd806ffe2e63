"""Integrations init() switches on (magic, TensorBoard, Gym, Jupyter); each module is imported only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker._errors import UsageError

if TYPE_CHECKING:
    from tracker._run import Run


def check(magic: Any, tensorboard: Any, sync_tensorboard: Any, monitor_gym: Any) -> dict[str, Any]:
    """Validate init()'s integration arguments before anything is written; the record run.json keeps."""
    for argument, value in (
        ("tensorboard", tensorboard),
        ("sync_tensorboard", sync_tensorboard),
        ("monitor_gym", monitor_gym),
    ):
        if value is not None and not isinstance(value, bool):
            raise UsageError(f"{argument}={value!r} must be a bool")
    captures = None
    if magic is not None and magic is not False:
        from tracker.integrations import magic as magic_module

        captures = magic_module.parse(magic)
    return {
        "magic": captures,
        "sync_tensorboard": bool(sync_tensorboard or tensorboard),
        "monitor_gym": bool(monitor_gym),
    }


def start(run: Run, switched_on: dict[str, Any]) -> None:
    """Hook the switched-on integrations to ``run``; each one unhooks itself at the run's finish()."""
    if switched_on["magic"]:
        from tracker.integrations import magic

        magic.capture(run, switched_on["magic"])
        run._finish_hooks.append(magic.release)
    if switched_on["sync_tensorboard"]:
        from tracker.integrations import tensorboard

        tensorboard.patch(run=run)
        run._finish_hooks.append(lambda: tensorboard.unpatch(run))
    if switched_on["monitor_gym"]:
        from tracker.integrations import gym

        gym.monitor(run)
        run._finish_hooks.append(lambda: gym.unmonitor(run))
