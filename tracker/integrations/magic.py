"""``init(magic=...)``: the program's argparse and absl flags go into the run's config without being passed."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import weakref
from typing import TYPE_CHECKING, Any, cast

from tracker import _config, _process
from tracker._errors import UsageError

if TYPE_CHECKING:
    from tracker._run import Run

CAPTURES = ("argparse", "absl")
_KEYS = (*CAPTURES, "enable", "args")  # "enable" and "args": {...} are wandb's spelling of the same switches
_original_parse_known_args = argparse.ArgumentParser.parse_known_args
_argparse_runs: weakref.WeakSet[Run] = weakref.WeakSet()  # the runs that asked for argparse capture
_absl_runs: weakref.WeakSet[Run] = weakref.WeakSet()  # ... and for absl capture
_original_flags_call: Any = None


def parse(magic: Any) -> dict[str, bool] | None:
    """Which captures ``magic`` (bool, dict, JSON text or YAML file name) switches on; None for none."""
    value = magic
    if isinstance(magic, str):
        try:
            value = json.loads(magic)
        except ValueError:
            if not os.path.isfile(magic):
                raise UsageError(f"magic={magic!r} is neither JSON nor the path of a YAML file") from None
            value = _config.load(magic, "magic")
    if isinstance(value, bool) or value == {}:
        return dict.fromkeys(CAPTURES, True) if value else None
    if not isinstance(value, dict):
        raise UsageError(f"magic={magic!r} must be a bool, a dict, a JSON string or a YAML file path")
    switches = dict.fromkeys(CAPTURES, True)
    for key, setting in value.items():
        if key not in _KEYS:
            raise UsageError(f"magic: {key!r} is not a magic setting; known: {', '.join(_KEYS)}")
        if key == "args":
            if not isinstance(setting, dict):
                raise UsageError(f"magic: args={setting!r} must be a dict of {', '.join(CAPTURES)} switches")
            nested = parse(setting) or {}
            switches = {name: switches[name] and nested.get(name, False) for name in CAPTURES}
        elif not isinstance(setting, bool):
            raise UsageError(f"magic: {key}={setting!r} must be true or false")
        elif key == "enable":
            if not setting:
                return None
        else:
            switches[key] = setting
    return switches if any(switches.values()) else None


def capture(run: Run, switches: dict[str, bool]) -> None:
    """Put what was parsed already into ``run.config``; argparse parses to come are added as they happen."""
    if switches["argparse"]:
        for namespace in _parsed_namespaces():
            _add(run, namespace)
        argparse.ArgumentParser.parse_known_args = _parse_known_args  # type: ignore[method-assign]  # until release()
        _argparse_runs.add(run)
    if switches["absl"] and importlib.util.find_spec("absl") is not None:
        from absl import flags

        global _original_flags_call
        if flags.FLAGS.is_parsed():
            _add(run, _absl_values(flags.FLAGS))
        _absl_runs.add(run)
        if _original_flags_call is None:  # flags parsed after init() (app.run later) are added when parsed
            _original_flags_call = flags.FlagValues.__call__
            flags.FlagValues.__call__ = _parse_flags  # type: ignore[method-assign]  # until release()


def release() -> None:
    """argparse's and absl's own parsing back, once no live run asks for their capture."""
    global _original_flags_call
    if not any(not run._finished for run in _argparse_runs):
        argparse.ArgumentParser.parse_known_args = _original_parse_known_args  # type: ignore[method-assign]  # back
    if _original_flags_call is not None and not any(not run._finished for run in _absl_runs):
        from absl import flags

        flags.FlagValues.__call__ = _original_flags_call  # type: ignore[method-assign]  # its own method back
        _original_flags_call = None


def _parse_flags(self: Any, *args: Any, **kwargs: Any) -> Any:
    """absl's own parse, then the program's flags into the current run's config when it asked for magic."""
    result = _original_flags_call(self, *args, **kwargs)
    run = cast("Run | None", _process.current())
    if run is not None and run in _absl_runs and not run._finished:
        _add(run, _absl_values(self))
    return result


def _parse_known_args(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
    """argparse's own parse, then its values into the current run's config when that run asked for magic."""
    result = _original_parse_known_args(self, *args, **kwargs)
    run = cast("Run | None", _process.current())
    if run is not None and run in _argparse_runs and not run._finished:
        _add(run, result[0])
    return result


def _parsed_namespaces() -> list[argparse.Namespace]:
    """Namespaces the program parsed before init(): those whose names are all the destinations of a parser."""
    objects = gc.get_objects()
    destinations = [
        {action.dest for action in parser._actions if action.dest != argparse.SUPPRESS}
        for parser in objects
        if isinstance(parser, argparse.ArgumentParser)
    ]
    return [
        item
        for item in objects
        if type(item) is argparse.Namespace and vars(item) and any(set(vars(item)) <= dests for dests in destinations)
    ]


def _absl_values(flags: Any) -> dict[str, Any]:
    """The program's own absl flags (absl's built-in ones, such as logtostderr, left out), once parsed."""
    if not flags.is_parsed():
        return {}
    values = {}
    for module, defined in flags.flags_by_module_dict().items():
        if module.startswith("absl."):
            continue
        for flag in defined:
            values[flag.name] = flag.value
    return values


def _add(run: Run, values: Any) -> None:
    data = vars(values) if isinstance(values, argparse.Namespace) else values
    storable = {key: value if _storable(value) else str(value) for key, value in data.items()}
    run.config.update(storable, allow_val_change=True)


def _storable(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_storable(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str)
