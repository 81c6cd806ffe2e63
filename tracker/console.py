"""User-facing console lines: the one place that prints, to stderr, with TRACKER_SILENT honoured.

Everything shown is data, never markup: names, tags, config values and logged strings go into rich
``Text`` (no ``[...]`` markup is parsed) and terminal control characters are shown escaped, so a run
name can neither vanish, crash a table nor move the user's cursor.
"""

from __future__ import annotations

import sys
from typing import Any

_PREFIX = "tracker: "
# C0 and C1 control characters (and DEL), except tab and newline, shown as escapes
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if code not in (9, 10)}


def printable(text: str) -> str:
    """``text`` with terminal control characters escaped (ESC sequences, carriage returns, bells)."""
    return text.translate(_CONTROLS)


def info(message: str, *, silent: bool) -> None:
    """A progress line (run header, resume notice); suppressed when silent."""
    if not silent:
        _emit(message)


def warn(message: str) -> None:
    """A warning the user must see: data not stored as asked, a fallback taken. Never suppressed."""
    _emit(f"warning: {message}")


def _emit(line: str, prefix: str = _PREFIX) -> None:
    try:
        sys.stderr.write(f"{prefix}{printable(line)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed or missing stderr must not break training
        pass


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[str]],
    *,
    stdout: bool = False,
    no_wrap: tuple[str, ...] = ("id", "state", "#"),
) -> None:
    """A rich table: on stderr beside progress lines, or on stdout when it is the command's output."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def text(value: Any) -> Text:
        return Text(printable(str(value)))

    rendered = Table(title=text(title) if title is not None else None, title_justify="left")
    for column in columns:
        rendered.add_column(text(column), overflow="fold", no_wrap=column in no_wrap)
    for row in rows:
        rendered.add_row(*(text(cell) for cell in row))
    console = Console(stderr=not stdout)
    if not console.is_terminal:  # piped into a file or a pager: do not squeeze into 80 columns
        console.width = max(console.width, 200)
    console.print(rendered)


_LONGEST_LIST = 8


def format_value(value: Any) -> str:
    """A table cell: floats to 4 significant digits, None as ``-``, media as their type and file, long lists
    as their length (a cell must stay readable whatever was logged)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict) and isinstance(kind := value.get("_type"), str):
        if kind == "histogram":
            return f"histogram ({len(value.get('values') or ())} bins)"
        return f"{kind} {value.get('path', '')}".rstrip()
    if isinstance(value, list | tuple) and len(value) > _LONGEST_LIST:
        return f"[{len(value)} values]"
    return str(value)


def out(text: str) -> None:
    """A command's plain output on stdout (JSON, CSV, messages)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()  # a follower reading a pipe sees each line as it is printed


def note(message: str) -> None:
    """A command's progress or outcome line on stderr (``moved ... to the trash``), control characters escaped."""
    _emit(message, prefix="")
