"""A script's own ``tracker.init()`` inside a tracked Hydra job: it joins the job's run.

Porting a wandb script into Hydra usually keeps its ``init(project=..., name=..., config=...)``. The
tracked launcher has already opened the job's run, so that call returns it (wandb's "return_previous");
this module applies what the script asked for where the run allows it and warns once, naming the
rest, instead of dropping it silently.
"""

from __future__ import annotations

from typing import Any

import tracker
from tracker import _process, _validate, console

# run attributes a running run can take from a script's init()
_SETTABLE = ("name", "tags", "notes")
# init() arguments that only say how to treat an existing run: nothing to apply to the job's run
_NO_EFFECT = ("reinit", "dir", "resume", "anonymous", "allow_val_change", "save_code", "force")


def host_script_init(run: tracker.Run) -> None:
    """Make a later ``init()`` in this process apply its arguments to ``run`` (see ``tracker._init``)."""
    warned: list[bool] = []

    def adopt(keywords: dict[str, Any], config: dict[str, Any]) -> None:
        not_applied = _apply(run, keywords, config)
        if not_applied and not warned:
            warned.append(True)
            console.warn(
                f"init() inside a tracked Hydra job returns the job's run {run.project}/{run.id}; "
                f"not applied: {', '.join(not_applied)} (set them under the `tracker` config group instead)"
            )

    _process.on_returned(run, adopt)


def _apply(run: tracker.Run, keywords: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Apply name, notes, tags (added to the job's) and new config keys; describe what could not be applied."""
    not_applied = []
    for key, value in keywords.items():
        if value is None or key in _NO_EFFECT:
            continue
        if key == "tags":
            run.tags = list(dict.fromkeys([*run.tags, *_validate.tags(value)]))
        elif key in _SETTABLE:
            setattr(run, key, value)
        elif (_mode(run) if key == "mode" else getattr(run, key, None)) != value:
            not_applied.append(f"{key}={value!r}")
    conflicts = sorted(key for key, value in config.items() if key in run.config and run.config[key] != value)
    run.config.setdefaults(config)
    not_applied.extend(f"config[{key!r}]={config[key]!r} (the job's is {run.config[key]!r})" for key in conflicts)
    return not_applied


def _mode(run: tracker.Run) -> str:
    return "disabled" if run.disabled else "offline" if run.offline else "online"
