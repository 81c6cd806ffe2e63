"""The exception types every public call raises, so callers can catch the tracker's errors as one family."""


class Error(Exception):
    """Base class of every error the tracker raises on purpose."""


class UsageError(Error, ValueError):
    """An argument, setting or call that the tracker cannot honour; the message names what and why."""


class ConfigError(Error):
    """A config value would be changed without ``allow_val_change``."""
