"""Settings and their precedence: defaults < file < TRACKER_* (else WANDB_*) environment < settings= < keywords."""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from tracker import _validate, console
from tracker._errors import UsageError
from tracker._logs import LEVELS

MODES = ("online", "offline", "disabled")
MODE_ALIASES = {"dryrun": "offline", "run": "online"}
RESUME_MODES = ("auto", "allow", "must", "never")
REINIT_MODES = ("return_previous", "finish_previous", "create_new")
ANONYMOUS_MODES = ("allow", "must", "never")

Parser = Callable[[str, Any], Any]


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


def _tracker_variables() -> dict[str, str]:
    """The TRACKER_* and WANDB_* variables, read in one pass: each miss in ``os.environ.get`` raises and
    catches a KeyError, and init() looks up some fifty names."""
    environ = os.environ  # its items() would decode every value (and re-encode every name): keys only, then hits
    return {name: environ[name] for name in environ if name.startswith(("TRACKER_", "WANDB_"))}


def environment_value(environ: Mapping[str, str], variable: str) -> tuple[str, str] | None:
    """``(name, value)`` of a TRACKER_* variable, else of its WANDB_* counterpart; unset or empty is None."""
    names = [variable] if variable in _TRACKER_ONLY else [variable, "WANDB_" + variable.removeprefix("TRACKER_")]
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
    return None


def _spec(
    parse: Parser, *, keyword: str | None = None, env: str | None = None, wandb_env: bool = True
) -> dict[str, Any]:
    """What a setting is besides its type and default: its parser, its init() keyword, its TRACKER_* variable.

    ``wandb_env=False`` marks a variable wandb has no WANDB_* counterpart for.
    """
    return {"parse": parse, "keyword": keyword, "env": env, "wandb_env": wandb_env}


@dataclass(frozen=True, init=False, repr=False, eq=False)  # no generated __eq__: import tracker stays cheap
class Settings:
    """Validated tracker settings; only the values given explicitly take part in precedence.

    The one table of settings: init()'s keywords and the TRACKER_* variables are derived from it.
    Names follow wandb.Settings where the meaning is the same; None for a setting with a default means
    "not given", as in init().

    >>> Settings(mode="offline", project="demo").project
    'demo'
    """

    mode: str = field(default="offline", metadata=_spec(_mode, keyword="mode", env="TRACKER_MODE"))
    project: str = field(
        default="uncategorized", metadata=_spec(_validate.identifier, keyword="project", env="TRACKER_PROJECT")
    )
    entity: str | None = field(
        default=None, metadata=_spec(_optional_identifier, keyword="entity", env="TRACKER_ENTITY")
    )
    root_dir: str | None = field(default=None, metadata=_spec(_root_dir, keyword="dir", env="TRACKER_DIR"))
    run_id: str | None = field(default=None, metadata=_spec(_optional_identifier, keyword="id", env="TRACKER_RUN_ID"))
    run_name: str | None = field(
        default=None, metadata=_spec(_optional_text(_validate.MAX_IDENTIFIER), keyword="name", env="TRACKER_NAME")
    )
    run_group: str | None = field(
        default=None, metadata=_spec(_optional_text(_validate.MAX_IDENTIFIER), keyword="group", env="TRACKER_RUN_GROUP")
    )
    run_job_type: str = field(default="train", metadata=_spec(_job_type, keyword="job_type", env="TRACKER_JOB_TYPE"))
    run_tags: tuple[str, ...] | None = field(default=None, metadata=_spec(_tags, keyword="tags", env="TRACKER_TAGS"))
    run_notes: str | None = field(
        default=None, metadata=_spec(_optional_text(None), keyword="notes", env="TRACKER_NOTES")
    )
    resume: bool | str | None = field(default=None, metadata=_spec(_resume, keyword="resume", env="TRACKER_RESUME"))
    reinit: bool | str | None = field(default=None, metadata=_spec(_reinit, keyword="reinit"))
    force: bool = field(default=False, metadata=_spec(_bool, keyword="force", env="TRACKER_FORCE"))
    silent: bool = field(default=False, metadata=_spec(_bool, env="TRACKER_SILENT"))
    save_code: bool = field(default=False, metadata=_spec(_bool, keyword="save_code", env="TRACKER_SAVE_CODE"))
    disable_git: bool = field(default=False, metadata=_spec(_bool, env="TRACKER_DISABLE_GIT"))
    allow_val_change: bool = field(default=False, metadata=_spec(_bool, keyword="allow_val_change"))
    anonymous: str | None = field(
        default=None, metadata=_spec(_anonymous, keyword="anonymous", env="TRACKER_ANONYMOUS")
    )
    base_url: str | None = field(default=None, metadata=_spec(_base_url, env="TRACKER_BASE_URL"))
    api_key: str | None = field(default=None, metadata=_spec(_optional_text(512), env="TRACKER_API_KEY"))
    # online mode: how long finish() waits for the upload, and how often a quiet run says it is alive
    upload_timeout: float = field(default=30.0, metadata=_spec(_seconds))
    heartbeat_interval: float = field(default=10.0, metadata=_spec(_seconds))
    # arrays/lists above 32 values are stored as histograms unless this is true
    keep_raw_arrays: bool = field(default=False, metadata=_spec(_bool, env="TRACKER_KEEP_RAW_ARRAYS", wandb_env=False))
    # "off": the run's console output is not copied to its output.log
    console: str = field(default="auto", metadata=_spec(_console, env="TRACKER_CONSOLE"))
    # CPU, memory, disk, network (and NVIDIA GPUs) sampled to system.jsonl by a background thread
    system_metrics: bool = field(default=True, metadata=_spec(_bool, env="TRACKER_SYSTEM_METRICS", wandb_env=False))
    system_metrics_interval: float = field(
        default=10.0, metadata=_spec(_interval, env="TRACKER_SYSTEM_METRICS_INTERVAL", wandb_env=False)
    )
    preemption_signals: tuple[str, ...] = field(
        default=("SIGTERM", "SIGUSR2"), metadata=_spec(_signals, env="TRACKER_PREEMPTION_SIGNALS", wandb_env=False)
    )
    # extra entries for metadata.json, e.g. the Hydra job a launcher ran
    run_metadata: dict[str, Any] | None = field(default=None, metadata=_spec(_metadata))
    # the least severe event written to the run's logs/debug.log (TRACKER_DEBUG=1 also echoes to stderr)
    log_level: str = field(default="info", metadata=_spec(_log_level, env="TRACKER_LOG_LEVEL", wandb_env=False))
    # the settings given explicitly, and where each came from (settings, a file, environment, argument, ...)
    _given: Mapping[str, str] = field(default_factory=dict, init=False)

    def __init__(self, **values: Any) -> None:
        self._fill(_parse(values, lambda name: name), "settings")

    def _fill(self, values: Mapping[str, Any], source: str | Mapping[str, str]) -> None:
        """Set every field at once (``values`` holds setting names only, already parsed): init() builds
        five of these, and a frozen dataclass's per-field ``object.__setattr__`` costs more than that."""
        state = vars(self)
        state.update(_DEFAULTS)
        state.update(values)
        state["_given"] = dict.fromkeys(values, source) if isinstance(source, str) else dict(source)

    @classmethod
    def _of(cls, values: Mapping[str, Any], source: str | Mapping[str, str]) -> Settings:
        """Settings from values already parsed; ``source`` names where they came from (one, or per value)."""
        settings = cls.__new__(cls)
        settings._fill(values, source)
        return settings

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str) -> Settings:
        """Build settings from a mapping, naming ``source`` (a file, ``settings``) in every error."""
        return cls._of(_parse(values, lambda name: f"{source}: {name}"), source)

    @classmethod
    def from_init_keywords(cls, keywords: Mapping[str, Any]) -> Settings:
        """Settings from init() keywords (None means not given); errors name the keyword."""
        values = {}
        for keyword, value in keywords.items():
            if keyword not in INIT_KEYWORDS:
                raise UsageError(f"{keyword!r} is not an init() argument; known: {', '.join(INIT_KEYWORDS)}")
            if value is not None:
                name = INIT_KEYWORDS[keyword]
                values[name] = _parser(name)(keyword, value)
        return cls._of(values, "argument")

    @classmethod
    def resolve(cls, settings: Settings | Mapping[str, Any] | None = None, **keywords: Any) -> Settings:
        """The settings init() uses for these keywords (None means not given) and ``settings=``:
        defaults < file < environment < setup() < settings= < keywords."""
        layers = {
            "file": from_file(settings_file_path()),
            "environment": from_environment(_tracker_variables()),
            "setup": process_defaults,  # what tracker.setup(settings=) gave
            "settings": coerce(settings),
            "argument": cls.from_init_keywords(keywords),
        }
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for source, layer in layers.items():
            values.update(layer._values())
            sources.update(dict.fromkeys(layer._given, source))
        return cls._of(values, sources)

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._given}

    def is_set(self, name: str) -> bool:
        return name in self._given

    def sources(self) -> dict[str, str]:
        """Where each explicitly given value came from (file, environment, setup, settings, argument)."""
        return dict(self._given)

    def to_dict(self) -> dict[str, Any]:
        """Every setting with its effective value; secrets (the API key) are shown as set or not, never as text."""
        values = {name: getattr(self, name) for name in FIELDS}
        if values["api_key"] is not None:
            values["api_key"] = "<set>"
        return values

    def merged(self, other: Settings) -> Settings:
        """A copy where ``other``'s explicitly set values win."""
        return self._of({**self._values(), **other._values()}, {**self._given, **other._given})

    def __repr__(self) -> str:
        given = ", ".join(
            f"{name}={'<set>' if name == 'api_key' else repr(value)}" for name, value in self._values().items()
        )
        return f"Settings({given})"


FIELDS: dict[str, Field[Any]] = {spec.name: spec for spec in fields(Settings) if not spec.name.startswith("_")}
"""Every setting by name, in the order of the table."""

_DEFAULTS: dict[str, Any] = {name: spec.default for name, spec in FIELDS.items()}

INIT_KEYWORDS: dict[str, str] = {
    spec.metadata["keyword"]: name for name, spec in FIELDS.items() if spec.metadata["keyword"] is not None
}
"""init() keyword -> setting, so that errors about keywords name the keyword the user wrote."""

ENVIRONMENT: dict[str, str] = {spec.metadata["env"]: name for name, spec in FIELDS.items() if spec.metadata["env"]}
"""TRACKER_* variable -> setting; each is named after its WANDB_* counterpart (read as fallback)."""

# the TRACKER_* variables wandb has no counterpart for; every other one falls back to WANDB_<same suffix>
_TRACKER_ONLY = frozenset(spec.metadata["env"] for spec in FIELDS.values() if not spec.metadata["wandb_env"])


def _parser(name: str) -> Parser:
    parse: Parser = FIELDS[name].metadata["parse"]
    return parse


def _parse(values: Mapping[str, Any], describe: Callable[[str], str]) -> dict[str, Any]:
    """Validate given settings by name; wandb's settings with no meaning here are dropped with one warning."""
    ignored = sorted(name for name in values if name in WANDB_ONLY_SETTINGS)
    if ignored:
        console.warn(f"{describe(', '.join(ignored))}: wandb setting(s) with no meaning in tracker, ignored")
    parsed = {}
    for name, value in values.items():
        if name in WANDB_ONLY_SETTINGS:
            continue
        if name not in FIELDS:
            allowed = ", ".join(sorted(FIELDS))
            raise UsageError(f"{describe(name)} is not a setting; known settings: {allowed}")
        if value is None and FIELDS[name].default is not None:
            continue  # None means the default, as for init()'s keywords
        parsed[name] = _parser(name)(describe(name), value)
    return parsed


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
    values = {}
    for variable, name in ENVIRONMENT.items():
        found = environment_value(environ, variable)
        if found is not None:
            values[name] = _parser(name)(*found)
    disabled = environment_value(environ, "TRACKER_DISABLED")
    wandb_under_tracker = disabled is not None and disabled[0].startswith("WANDB_") and environ.get("TRACKER_MODE")
    if disabled is not None and not wandb_under_tracker and _validate.boolean(*disabled, from_text=True):
        values["mode"] = "disabled"
    return Settings._of(values, "environment")


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
