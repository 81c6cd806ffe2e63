"""Runs in a Jupyter kernel: a card at init(), a summary with sparklines at finish(), the session saved as code.

Imported only when IPython is already loaded and the shell is a kernel; a plain script never pays for it.
"""

from __future__ import annotations

import atexit
import contextlib
import html
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any

from tracker import console

if TYPE_CHECKING:
    from tracker._run import Run

NOTEBOOK_FILE = "session.ipynb"
_SPARK_WIDTH, _SPARK_HEIGHT = 120, 24
_MAX_POINTS = 200  # a sparkline needs no more; longer series are thinned


def kernel_shell() -> Any:
    """The IPython shell when this process is a Jupyter kernel (ZMQ shell), else None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if shell is not None and type(shell).__name__ == "ZMQInteractiveShell" else None


class Session:
    """One run's hooks in the kernel: registered by setup(), removed by teardown() (called from finish())."""

    def __init__(self, shell: Any, run: Run, save_code: bool) -> None:
        self.shell, self.run, self.save_code = shell, run, save_code
        self.failed_cells: set[int] = set()

    def setup(self) -> None:
        self.shell.events.register("post_run_cell", self.post_run_cell)
        atexit.register(self.finish_at_shutdown)  # runs before the tracker's own exit handler (LIFO)
        self.run._finish_hooks.append(self.teardown)
        _display(card_html(self.run))

    def post_run_cell(self, result: Any) -> None:
        """Remember which cells raised: the saved notebook marks them."""
        if not getattr(result, "success", True):
            count = getattr(result, "execution_count", None)
            if count is not None:
                self.failed_cells.add(count)

    def finish_at_shutdown(self) -> None:
        """The kernel is shutting down: a cell that raised earlier is no failure of the run."""
        if not self.run._finished:
            self.run.finish(exit_code=0)

    def teardown(self) -> None:
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
        atexit.unregister(self.finish_at_shutdown)
        if self.save_code and not self.run.disabled:
            try:
                self._save_session()
            except OSError as error:
                console.warn(f"save_code: the notebook session could not be saved ({error.strerror or error})")
        _display(summary_html(self.run, _series(self.run)))

    def _save_session(self) -> None:
        """The session's executed cells as a notebook (and the notebook file itself when the server says which)."""
        from tracker.atomic import write_atomic

        code = os.path.join(self.run.dir, "code")
        os.makedirs(code, exist_ok=True)
        cells = list(self.shell.history_manager.input_hist_raw)[1:]
        write_atomic(os.path.join(code, NOTEBOOK_FILE), session_notebook(cells, self.failed_cells))
        notebook = os.environ.get("JPY_SESSION_NAME")
        if notebook and notebook.endswith(".ipynb") and os.path.isfile(notebook):
            with open(notebook, "rb") as handle:
                write_atomic(os.path.join(code, os.path.basename(notebook)), handle.read())


def setup(run: Run, shell: Any, save_code: bool) -> None:
    """Show the run's card and register its hooks; finish() removes them and shows the summary."""
    Session(shell, run, save_code).setup()


def _display(markup: str) -> None:
    from IPython.display import HTML, display

    with contextlib.suppress(Exception):  # at kernel shutdown there may be no one to display to
        display(HTML(markup))


def card_html(run: Run) -> str:
    """The run's card: name, id, project and where it is stored (and its page when online); all escaped."""
    stored = "nowhere (mode=disabled)" if run.disabled else run.dir
    rows = [("run", run.name), ("id", run.id), ("project", run.project), ("stored in", stored)]
    link = ""
    if run.url:
        link = f'<div><a href="{html.escape(run.url)}" target="_blank">{html.escape(run.url)}</a></div>'
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<div class="tracker-run-card"><b>tracker</b><table>{body}</table>{link}</div>'


def summary_html(run: Run, series: dict[str, list[float]]) -> str:
    """The finished run's final values, with a sparkline per metric that has a history."""
    values = {key: value for key, value in run.summary.as_dict().items() if not key.startswith("_")}
    lines = []
    for key in sorted(set(values) | set(series)):
        value = values.get(key, series[key][-1] if series.get(key) else "")
        shown = value if isinstance(value, int | float | str | bool) else f"<{type(value).__name__}>"
        if isinstance(value, dict) and "_type" in value:
            shown = f"<{value['_type']}>"
        spark = sparkline(series.get(key, []))
        lines.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(shown))}</td><td>{spark}</td></tr>")
    title = f"run {html.escape(run.name)} ({html.escape(run.id)}) {html.escape(run.status)}"
    return f'<div class="tracker-run-summary"><b>{title}</b><table>{"".join(lines)}</table></div>'


def sparkline(values: list[float]) -> str:
    """An inline SVG polyline of the values (finite ones only), or nothing for fewer than two."""
    points = [value for value in values if math.isfinite(value)]
    if len(points) < 2:
        return ""
    if len(points) > _MAX_POINTS:
        stride = math.ceil(len(points) / _MAX_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    coordinates = " ".join(
        f"{index * _SPARK_WIDTH / (len(points) - 1):.1f},{_SPARK_HEIGHT - (value - low) / span * _SPARK_HEIGHT:.1f}"
        for index, value in enumerate(points)
    )
    return (
        f'<svg class="tracker-sparkline" width="{_SPARK_WIDTH}" height="{_SPARK_HEIGHT}" '
        f'viewBox="0 -1 {_SPARK_WIDTH} {_SPARK_HEIGHT + 2}"><polyline fill="none" stroke="currentColor" '
        f'points="{coordinates}"/></svg>'
    )


def _series(run: Run) -> dict[str, list[float]]:
    """Each numeric metric's values in history order, read back from the run's journal (only at finish)."""
    paths = run._writer.paths
    if paths is None:
        return {}
    from tracker._journal import EVENT, read_records

    series: dict[str, list[float]] = {}
    for record in read_records(paths.history):
        if EVENT in record:
            continue
        for key, value in record.items():
            if not key.startswith("_") and isinstance(value, int | float) and not isinstance(value, bool):
                series.setdefault(key, []).append(float(value))
    return series


def session_notebook(cells: list[str], failed: set[int]) -> bytes:
    """A version 4 notebook holding the given cell sources in order; cells that raised are marked."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}, "tracker": {"saved_by": "save_code"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{count}",
                "execution_count": count,
                "metadata": {"tracker": {"raised": True}} if count in failed else {},
                "outputs": [],
                "source": source,
            }
            for count, source in enumerate(cells, start=1)
        ],
    }
    return json.dumps(notebook, indent=1).encode("utf-8")
