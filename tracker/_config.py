"""``run.config``: loading every documented config source, key filtering, and guarded value changes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tracker._errors import ConfigError, UsageError
from tracker._journal import check_storable

# Keys that wandb writes into its own config files; dropped when such a file is loaded.
_FOREIGN_KEYS = ("wandb_version", "_wandb")


def _is_omegaconf(value: Any) -> bool:
    return type(value).__module__.startswith("omegaconf")


def _plain(value: Any) -> Any:
    """Deep copy into plain containers so later changes to the caller's objects do not leak in."""
    if _is_omegaconf(value):  # the caller's omegaconf, loaded by whoever built the DictConfig (never imported here)
        return sys.modules["omegaconf"].OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _from_yaml(path: str) -> dict[str, Any]:
    import yaml  # only paid for when a YAML path is given

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise UsageError(f"config={path!r} cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise UsageError(f"config={path!r} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config={path!r} must hold a mapping at the top, not {type(data).__name__}")
    result = {}
    for key, value in data.items():
        if key in _FOREIGN_KEYS:
            continue
        # the documented "key: {value: ..., desc: ...}" form
        if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        result[str(key)] = value
    return result


def load(source: Any, argument: str = "config") -> dict[str, Any]:
    """A plain dict from a dict, argparse.Namespace, absl flags, YAML path or OmegaConf DictConfig."""
    if source is None:
        return {}
    if _is_omegaconf(source):
        data = _plain(source)
        if not isinstance(data, dict):
            raise UsageError(f"{argument} must be an OmegaConf DictConfig, not a {type(source).__name__}")
        return data
    if isinstance(source, Mapping):
        data = _plain(source)
    elif isinstance(source, str | os.PathLike):
        data = _from_yaml(os.fspath(source))
    elif callable(getattr(source, "flag_values_dict", None)):  # absl.flags.FLAGS
        data = _plain(source.flag_values_dict())
    elif type(source).__name__ == "Namespace" and hasattr(source, "__dict__"):  # argparse
        data = _plain(vars(source))
    else:
        raise UsageError(
            f"{argument} of type {type(source).__name__} is not supported; use a dict, argparse.Namespace, "
            "absl flags, a path to a YAML file, or an OmegaConf DictConfig"
        )
    for key in data:
        if not isinstance(key, str):
            raise UsageError(f"{argument}: keys must be strings, not {type(key).__name__} ({key!r})")
    check_storable(argument, data)
    return data


def _split(path: str, data: Mapping[str, Any]) -> list[str]:
    """A key's path into nested dicts: the literal key if present, else its dotted parts."""
    return [path] if path in data else path.split(".")


def _normalize_keys(argument: str, keys: Any) -> list[str]:
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, Iterable) or not all(isinstance(key, str) and key for key in keys):
        raise UsageError(f"{argument}={keys!r} must be a list of non-empty key names")
    return list(keys)


def key_filters(include: Any = None, exclude: Any = None) -> tuple[list[str] | None, list[str] | None]:
    """Check init()'s ``config_include_keys``/``config_exclude_keys`` (at most one, lists of key names)."""
    if include is not None and exclude is not None:
        raise UsageError("config_include_keys and config_exclude_keys cannot both be given; choose one")
    return (
        None if include is None else _normalize_keys("config_include_keys", include),
        None if exclude is None else _normalize_keys("config_exclude_keys", exclude),
    )


def filter_keys(data: dict[str, Any], include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """Keep only ``include`` paths or drop ``exclude`` paths; dotted paths reach into nested dicts."""
    include, exclude = key_filters(include, exclude)
    if include is not None:
        result: dict[str, Any] = {}
        for path in include:
            source: Any = data
            target = result
            parts = _split(path, data)
            for depth, part in enumerate(parts):
                if not isinstance(source, Mapping) or part not in source:
                    break
                if depth == len(parts) - 1:
                    target[part] = source[part]
                else:
                    source = source[part]
                    target = target.setdefault(part, {})
        return result
    if exclude is not None:
        result = _plain(data)
        for path in exclude:
            node: Any = result
            parts = _split(path, result)
            for part in parts[:-1]:
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, dict):
                node.pop(parts[-1], None)
        return result
    return data


class Config:
    """``run.config``: attribute and item access; changing a set value needs ``allow_val_change``."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        allow_val_change: bool = False,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_allow_val_change", allow_val_change)
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_frozen", None)

    def _freeze(self, reason: str) -> None:
        object.__setattr__(self, "_frozen", reason)

    def update(self, values: Any, allow_val_change: bool | None = None) -> None:
        """Add or change keys from any config source; changing a value needs ``allow_val_change=True``."""
        if self._frozen:
            raise UsageError(f"config cannot change: {self._frozen}")
        incoming = load(values, "config.update()")
        allowed = self._allow_val_change if allow_val_change is None else allow_val_change
        if not allowed:
            for key, value in incoming.items():
                if key in self._data and self._data[key] != value:
                    raise ConfigError(
                        f"config key {key!r} would change from {self._data[key]!r} to {value!r}; "
                        "pass allow_val_change=True to change it"
                    )
        changed = {key: value for key, value in incoming.items() if self._data.get(key, _MISSING) != value}
        if changed:
            self._data.update(changed)
            if self._on_change is not None:
                self._on_change(self._data)

    def setdefaults(self, values: Any) -> None:
        """Add only the keys that are not set yet."""
        self.update({k: v for k, v in load(values, "config.setdefaults()").items() if k not in self._data})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Iterable[str]:
        return self._data.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._data.items()

    def values(self) -> Iterable[Any]:
        return self._data.values()

    def as_dict(self) -> dict[str, Any]:
        return _plain(self._data)

    def __eq__(self, other: object) -> bool:
        return self._data == (other._data if isinstance(other, Config) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


_MISSING = object()
