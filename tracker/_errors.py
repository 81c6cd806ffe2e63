"""The exception types every public call raises, so callers can catch the tracker's errors as one family."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error the tracker raises on purpose."""


class UsageError(Error, ValueError):
    """An argument, setting or call that the tracker cannot honour; the message names what and why."""


class ConfigError(Error):
    """A config value would be changed without ``allow_val_change``."""


class StorageError(Error, OSError):
    """The store could not be written (disk full, read-only, I/O error); what was stored before is intact.

    It is an ``OSError`` too, with the ``errno`` of the failure, so ``except OSError`` keeps working.
    """

    def __init__(self, message: str, cause: OSError | None = None) -> None:
        super().__init__(cause.errno if cause is not None else None, message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def of(cls, what: str, cause: OSError, consequence: str) -> StorageError:
        """``what`` failed because of ``cause`` (its reason spelled out), and what that means for the run."""
        reason = cause.strerror or str(cause)
        where = f" ({cause.filename})" if cause.filename else ""
        return cls(f"{what}: {reason}{where}; {consequence}", cause)
