"""Settings and their precedence: defaults < file < TRACKER_* (else WANDB_*) environment < settings= < keywords."""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

from tracker import _validate, console
from tracker._errors import UsageError
from tracker._logs import LEVELS

MODES = ("online", "offline", "disabled")
MODE_ALIASES = {"dryrun": "offline", "run": "online"}
RESUME_MODES = ("auto", "allow", "must", "never")
REINIT_MODES = ("return_previous", "finish_previous", "create_new")
ANONYMOUS_MODES = ("allow", "must", "never")


def _mode(argument: str, value: Any) -> str:
    if isinstance(value, str):
        value = MODE_ALIASES.get(value.lower(), value.lower())
    return _validate.choice(argument, value, MODES)


CONSOLE_MODES = ("auto", "wrap", "off")  # auto and wrap both copy Python's stdout/stderr to output.log


def _console(argument: str, value: Any) -> str:
    return _validate.choice(argument, value.lower() if isinstance(value, str) else value, CONSOLE_MODES)


def _log_level(argument: str, value: Any) -> str:
    return _validate.choice(argument, value.lower() if isinstance(value, str) else value, LEVELS)


def _interval(argument: str, value: Any) -> float:
    if isinstance(value, str) and _from_environment(argument):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise UsageError(f"{argument}={value!r} must be a positive number of seconds")
    return float(value)


def _optional_identifier(argument: str, value: Any) -> str | None:
    return None if value is None else _validate.identifier(argument, value)


def _optional_text(max_length: int | None) -> Callable[[str, Any], str | None]:
    def parse(argument: str, value: Any) -> str | None:
        return None if value is None else _validate.text(argument, value, max_length=max_length)

    return parse


def _job_type(argument: str, value: Any) -> str:
    return _validate.text(argument, value, max_length=_validate.MAX_JOB_TYPE, allow_empty=False)


def _root_dir(argument: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise UsageError(f"{argument}={value!r} must be a path (str or os.PathLike)")
    text = os.fspath(value)
    if not text or "\x00" in text:
        raise UsageError(f"{argument}={value!r} is not a usable path")
    return os.path.abspath(os.path.expanduser(text))


def _tags(argument: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) and _from_environment(argument):
        value = [tag.strip() for tag in value.split(",") if tag.strip()]
    return _validate.tags(value, argument)


def _resume(argument: str, value: Any) -> bool | str | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("", "none", "null"):
            return None
        value = lowered
    return _validate.choice(argument, value, (None, True, False, *RESUME_MODES))


def _reinit(argument: str, value: Any) -> bool | str | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _validate.choice(argument, value, (True, False, *REINIT_MODES))


def _anonymous(argument: str, value: Any) -> str | None:
    return None if value is None else _validate.choice(argument, value, ANONYMOUS_MODES)


def _base_url(argument: str, value: Any) -> str | None:
    if value is None:
        return None
    url = _validate.text(argument, value, allow_empty=False)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{argument}={value!r} must start with http:// or https://")
    return url.rstrip("/")


def _signals(argument: str, value: Any) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        raise UsageError(f"{argument}={value!r} must be a list of signal names such as ['SIGTERM', 'SIGUSR2']")
    result = []
    for name in names:
        name = str(name).strip().upper()
        if not name:
            continue
        if not name.startswith("SIG"):
            name = "SIG" + name
        if not isinstance(getattr(signal, name, None), signal.Signals) or name in ("SIGKILL", "SIGSTOP"):
            raise UsageError(f"{argument}: {name!r} is not a signal that can be handled")
        result.append(name)
    return tuple(result)


def _seconds(argument: str, value: Any) -> float:
    if isinstance(value, str) and _from_environment(argument):
        try:
            value = float(value)
        except ValueError:
            raise UsageError(f"{argument}={value!r} must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        raise UsageError(f"{argument}={value!r} must be a positive number of seconds")
    return float(value)


def _from_environment(argument: str) -> bool:
    return argument.startswith(("TRACKER_", "WANDB_"))


def _metadata(argument: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise UsageError(f"{argument}={value!r} must be a mapping with string keys")
    return dict(value)


def _bool(argument: str, value: Any) -> bool:
    return _validate.boolean(argument, value, from_text=_from_environment(argument))


# name -> (default, parser). Names follow wandb.Settings where the meaning is the same.
_FIELDS: dict[str, tuple[Any, Callable[[str, Any], Any]]] = {
    "mode": ("offline", _mode),
    "project": ("uncategorized", _optional_identifier),
    "entity": (None, _optional_identifier),
    "root_dir": (None, _root_dir),
    "run_id": (None, _optional_identifier),
    "run_name": (None, _optional_text(_validate.MAX_IDENTIFIER)),
    "run_group": (None, _optional_text(_validate.MAX_IDENTIFIER)),
    "run_job_type": ("train", _job_type),
    "run_tags": (None, _tags),
    "run_notes": (None, _optional_text(None)),
    "resume": (None, _resume),
    "reinit": (None, _reinit),
    "force": (False, _bool),
    "silent": (False, _bool),
    "save_code": (False, _bool),
    "disable_git": (False, _bool),
    "allow_val_change": (False, _bool),
    "anonymous": (None, _anonymous),
    "base_url": (None, _base_url),
    "api_key": (None, _optional_text(512)),
    # online mode: how long finish() waits for the upload, and how often a quiet run says it is alive
    "upload_timeout": (30.0, _seconds),
    "heartbeat_interval": (10.0, _seconds),
    # arrays/lists above 32 values are stored as histograms unless this is true
    "keep_raw_arrays": (False, _bool),
    # "off": the run's console output is not copied to its output.log
    "console": ("auto", _console),
    # CPU, memory, disk, network (and NVIDIA GPUs) sampled to system.jsonl by a background thread
    "system_metrics": (True, _bool),
    "system_metrics_interval": (10.0, _interval),
    "preemption_signals": (("SIGTERM", "SIGUSR2"), _signals),
    # extra entries for metadata.json, e.g. the Hydra job a launcher ran
    "run_metadata": (None, _metadata),
    # the least severe event written to the run's logs/debug.log (TRACKER_DEBUG=1 also echoes to stderr)
    "log_level": ("info", _log_level),
}

# init() keyword -> setting, so that errors about keywords name the keyword the user wrote.
INIT_KEYWORDS: dict[str, str] = {
    "job_type": "run_job_type",
    "dir": "root_dir",
    "project": "project",
    "entity": "entity",
    "reinit": "reinit",
    "tags": "run_tags",
    "group": "run_group",
    "name": "run_name",
    "notes": "run_notes",
    "anonymous": "anonymous",
    "mode": "mode",
    "allow_val_change": "allow_val_change",
    "resume": "resume",
    "force": "force",
    "save_code": "save_code",
    "id": "run_id",
}

# TRACKER_* variables, named after their WANDB_* counterparts (read as fallbacks, see environment_value).
ENVIRONMENT: dict[str, str] = {
    "TRACKER_MODE": "mode",
    "TRACKER_PROJECT": "project",
    "TRACKER_ENTITY": "entity",
    "TRACKER_DIR": "root_dir",
    "TRACKER_RUN_ID": "run_id",
    "TRACKER_NAME": "run_name",
    "TRACKER_RUN_GROUP": "run_group",
    "TRACKER_JOB_TYPE": "run_job_type",
    "TRACKER_TAGS": "run_tags",
    "TRACKER_NOTES": "run_notes",
    "TRACKER_RESUME": "resume",
    "TRACKER_FORCE": "force",
    "TRACKER_SILENT": "silent",
    "TRACKER_SAVE_CODE": "save_code",
    "TRACKER_DISABLE_GIT": "disable_git",
    "TRACKER_ANONYMOUS": "anonymous",
    "TRACKER_BASE_URL": "base_url",
    "TRACKER_API_KEY": "api_key",
    "TRACKER_PREEMPTION_SIGNALS": "preemption_signals",
    "TRACKER_KEEP_RAW_ARRAYS": "keep_raw_arrays",
    "TRACKER_CONSOLE": "console",
    "TRACKER_SYSTEM_METRICS": "system_metrics",
    "TRACKER_SYSTEM_METRICS_INTERVAL": "system_metrics_interval",
    "TRACKER_LOG_LEVEL": "log_level",
}
# the TRACKER_* variables wandb has no counterpart for; every other one falls back to WANDB_<same suffix>
_TRACKER_ONLY = frozenset(
    {
        "TRACKER_PREEMPTION_SIGNALS",
        "TRACKER_KEEP_RAW_ARRAYS",
        "TRACKER_SYSTEM_METRICS",
        "TRACKER_SYSTEM_METRICS_INTERVAL",
        "TRACKER_LOG_LEVEL",
    }
)

# wandb.Settings fields that have no meaning here: accepted (ported scripts pass them) with one warning
WANDB_ONLY_SETTINGS = frozenset(
    {
        "start_method",
        "init_timeout",
        "quiet",
        "show_info",
        "show_warnings",
        "show_errors",
        "show_emoji",
        "code_dir",
        "program",
        "program_relpath",
        "notebook_name",
        "disable_job_creation",
        "disable_code",
        "log_internal",
        "_disable_stats",
        "_disable_meta",
        "_service_wait",
        "_require_core",
        "x_disable_stats",
        "x_disable_meta",
        "x_service_wait",
        "x_label",
        "x_primary",
        "x_stats_sampling_interval",
    }
)


def getenv(variable: str) -> str | None:
    """The value of a TRACKER_* variable, else of its WANDB_* counterpart, else None."""
    found = environment_value(os.environ, variable)
    return None if found is None else found[1]


def environment_value(environ: Mapping[str, str], variable: str) -> tuple[str, str] | None:
    """``(name, value)`` of a TRACKER_* variable, else of its WANDB_* counterpart; unset or empty is None."""
    names = [variable] if variable in _TRACKER_ONLY else [variable, "WANDB_" + variable.removeprefix("TRACKER_")]
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
    return None


class Settings:
    """Validated tracker settings; only the values given explicitly take part in precedence.

    >>> Settings(mode="offline", project="demo").project
    'demo'
    """

    __slots__ = ("_sources", "_values")

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = {}
        self._sources: dict[str, str] = {}  # after resolve(): where each given value came from
        self._update(values, lambda name: name)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str) -> Settings:
        """Build settings from a mapping, naming ``source`` (a file, ``settings``) in every error."""
        settings = cls()
        settings._update(values, lambda name: f"{source}: {name}")
        return settings

    @classmethod
    def from_init_keywords(cls, keywords: Mapping[str, Any]) -> Settings:
        """Settings from init() keywords (None means not given); errors name the keyword."""
        settings = cls()
        for keyword, value in keywords.items():
            if keyword not in INIT_KEYWORDS:
                raise UsageError(f"{keyword!r} is not an init() argument; known: {', '.join(INIT_KEYWORDS)}")
            if value is not None:
                name = INIT_KEYWORDS[keyword]
                settings._values[name] = _FIELDS[name][1](keyword, value)
        return settings

    @classmethod
    def resolve(cls, settings: Settings | Mapping[str, Any] | None = None, **keywords: Any) -> Settings:
        """The settings init() would use for these keywords: file < environment < settings= < keywords."""
        return resolve(keywords, settings)

    def _update(self, values: Mapping[str, Any], describe: Callable[[str], str]) -> None:
        ignored = sorted(name for name in values if name in WANDB_ONLY_SETTINGS)
        if ignored:
            console.warn(f"{describe(', '.join(ignored))}: wandb setting(s) with no meaning in tracker, ignored")
        for name, value in values.items():
            if name in WANDB_ONLY_SETTINGS:
                continue
            if name not in _FIELDS:
                allowed = ", ".join(sorted(_FIELDS))
                raise UsageError(f"{describe(name)} is not a setting; known settings: {allowed}")
            self._values[name] = _FIELDS[name][1](describe(name), value)

    def __getattr__(self, name: str) -> Any:
        if name in _FIELDS:
            return self._values.get(name, _FIELDS[name][0])
        raise AttributeError(f"Settings has no attribute {name!r}")

    def is_set(self, name: str) -> bool:
        return name in self._values

    def sources(self) -> dict[str, str]:
        """Where each explicitly given value came from (file, environment, settings, argument), after resolve()."""
        return dict(self._sources)

    def to_dict(self) -> dict[str, Any]:
        """Every setting with its effective value; secrets (the API key) are shown as set or not, never as text."""
        values = {name: getattr(self, name) for name in _FIELDS}
        if values["api_key"] is not None:
            values["api_key"] = "<set>"
        return values

    def merged(self, other: Settings) -> Settings:
        """A copy where ``other``'s explicitly set values win."""
        result = Settings()
        result._values = {**self._values, **other._values}
        result._sources = {**self._sources, **other._sources}
        return result

    def __repr__(self) -> str:
        given = ", ".join(
            f"{name}={'<set>' if name == 'api_key' else repr(value)}" for name, value in self._values.items()
        )
        return f"Settings({given})"


def settings_file_path() -> str:
    """The user's settings file: TRACKER_SETTINGS_FILE, else $XDG_CONFIG_HOME/tracker/settings.toml."""
    explicit = os.environ.get("TRACKER_SETTINGS_FILE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "tracker", "settings.toml")


def _file_table(path: str) -> dict[str, Any]:
    """The settings table of a TOML file (flat keys, or under a [tracker] table); a missing file is empty."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsageError(f"settings file {path} cannot be read: {error.strerror or error}") from error
    import tomllib  # only paid for when a settings file exists

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"settings file {path} is not valid TOML: {error}") from error
    table = data.get("tracker", data)
    if not isinstance(table, dict):
        raise UsageError(f"settings file {path}: [tracker] must be a table")
    if table is not data and len(data) > 1:
        stray = ", ".join(sorted(key for key in data if key != "tracker"))
        raise UsageError(f"settings file {path}: keys outside [tracker] ({stray}); put every setting in the table")
    return table


def from_file(path: str) -> Settings:
    """Settings from a TOML file (flat keys, or under a [tracker] table); a missing file is empty."""
    return Settings.from_mapping(_file_table(path), f"settings file {path}")


def resolve_root_dir(requested: str | os.PathLike[str] | None) -> str | None:
    """Only where the store is, with init()'s precedence: readers need no other setting, not even a valid mode."""
    if requested is not None:
        return _root_dir("dir", requested)
    if (variable := environment_value(os.environ, "TRACKER_DIR")) is not None:
        return _root_dir(*variable)
    path = settings_file_path()
    return _root_dir(f"settings file {path}: root_dir", _file_table(path).get("root_dir"))


def from_environment(environ: Mapping[str, str]) -> Settings:
    """Settings from TRACKER_* (else WANDB_*) variables; TRACKER_DISABLED=true (or WANDB_DISABLED) means disabled."""
    settings = Settings()
    for variable, name in ENVIRONMENT.items():
        found = environment_value(environ, variable)
        if found is not None:
            settings._values[name] = _FIELDS[name][1](*found)
    disabled = environment_value(environ, "TRACKER_DISABLED")
    wandb_under_tracker = disabled is not None and disabled[0].startswith("WANDB_") and environ.get("TRACKER_MODE")
    if disabled is not None and not wandb_under_tracker and _validate.boolean(*disabled, from_text=True):
        settings._values["mode"] = "disabled"
    return settings


process_defaults = Settings()
"""What tracker.setup(settings=) gave: above the environment, below init(settings=) and keywords."""


def coerce(value: Settings | Mapping[str, Any] | None) -> Settings:
    """Accept the ``settings=`` argument: a Settings, a dict (unknown keys are errors) or None."""
    if value is None:
        return Settings()
    if isinstance(value, Settings):
        return value
    if isinstance(value, Mapping):
        return Settings.from_mapping(value, "settings")
    raise UsageError(f"settings={value!r} must be a tracker.Settings or a dict, not {type(value).__name__}")


def resolve(keywords: Mapping[str, Any], settings: Settings | Mapping[str, Any] | None) -> Settings:
    """Apply the precedence chain to init()'s keywords (None means not given) and ``settings=``."""
    explicit = Settings.from_init_keywords(keywords)
    layers = {
        "file": from_file(settings_file_path()),
        "environment": from_environment(os.environ),
        "setup": process_defaults,  # what tracker.setup(settings=) gave
        "settings": coerce(settings),
        "argument": explicit,
    }
    resolved = Settings()
    for source, layer in layers.items():
        resolved = resolved.merged(layer)
        resolved._sources.update(dict.fromkeys(layer._values, source))
    return resolved
