"""User-facing console lines: the one place that prints, to stderr, with TRACKER_SILENT honoured."""

from __future__ import annotations

import sys

_PREFIX = "tracker: "


def info(message: str, *, silent: bool) -> None:
    """A progress line (run header, resume notice); suppressed when silent."""
    if not silent:
        _emit(message)


def warn(message: str) -> None:
    """A warning the user must see: data not stored as asked, a fallback taken. Never suppressed."""
    _emit(f"warning: {message}")


def _emit(line: str) -> None:
    try:
        sys.stderr.write(f"{_PREFIX}{line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed or missing stderr must not break training
        pass


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A table for the terminal: rich when installed, aligned plain text otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows, strict=False)]
        lines = [
            title,
            *(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False))
                for row in [columns, *rows]
            ),
        ]
        _emit("\n".join(lines))
        return
    rendered = Table(title=title, title_justify="left")
    for column in columns:
        rendered.add_column(column)
    for row in rows:
        rendered.add_row(*(str(cell) for cell in row))
    Console(stderr=True).print(rendered)
