"""wandb.util's helpers that ported scripts call, with the same names."""

from __future__ import annotations

from tracker._errors import UsageError
from tracker._names import new_run_id


def generate_id(length: int = 8) -> str:
    """A random run id of ``length`` base-36 characters, as ``wandb.util.generate_id``.

    >>> len(generate_id())
    8
    """
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 64:
        raise UsageError(f"generate_id(length={length!r}) must be an int from 1 to 64")
    return new_run_id(length)
