"""A real notebook executed by nbclient in an ipykernel: card, summary, config changes, reinit, shutdown, save_code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tests.conftest import wait_for
from tracker.integrations import jupyter

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    "import tracker\nrun = tracker.init(project='nb', id='first', name='<b>bold</b>', save_code=True)",
    "run.config['lr'] = 0.1\nrun.config['lr'] = 0.2\nrun.config['lr'] = 0.3",
    "for i in range(5):\n    run.log({'loss': 1.0 / (i + 1)})",
    "second = tracker.init(project='nb', id='second')\nprint(run.status, second.status)",
    "second.log({'acc': 1.0})",
]


def _html(cell: dict) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell["outputs"])


def test_notebook_run_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("TRACKER_DIR", str(store))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=180, resources={"metadata": {}})
    client.execute(cwd=str(tmp_path))
    cells = notebook.cells

    card = _html(cells[0])
    assert "tracker-run-card" in card and "first" in card and "nb" in card
    assert "&lt;b&gt;bold&lt;/b&gt;" in card and "<b>bold</b>" not in card  # user data is escaped
    # the next init() finished the open run: its summary (with a sparkline) is in that cell's output
    summary = _html(cells[3])
    assert "tracker-run-summary" in summary and "<svg" in summary and "loss" in summary
    assert "finished running" in "".join(out.get("text", "") for out in cells[3]["outputs"])

    api = tracker.Api(dir=store)
    first = api.run("nb/first")
    assert first.state == "finished" and first.config["lr"] == 0.3
    saved = json.loads((Path(first.directory) / "files" / "code" / jupyter.NOTEBOOK_FILE).read_text())
    sources = [cell["source"] for cell in saved["cells"]]
    assert sources[:3] == CELLS[:3] and CELLS[3] in sources  # the session, up to the cell that finished it
    # the kernel has shut down: the run it left open is finished, not crashed
    wait_for(lambda: api.run("nb/second").state == "finished", "the second run to be finished at kernel shutdown")


def test_nothing_of_it_outside_a_notebook(store: Path) -> None:
    """A plain script imports neither IPython nor the Jupyter integration, and keeps the script defaults."""
    code = (
        "import sys, tracker\n"
        f"run = tracker.init(dir={str(store)!r}, project='p')\n"
        "run.config['a'] = 1\n"
        "try:\n    run.config['a'] = 2\nexcept tracker.ConfigError:\n    print('refused')\n"
        "tracker.finish()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('IPython', 'tracker.integrations'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["refused", "[]"]


def test_sparkline_and_escaping() -> None:
    svg = jupyter.sparkline([3.0, 1.0, 2.0, float("nan")])
    assert svg.startswith("<svg") and svg.count(",") == 3
    assert jupyter.sparkline([1.0]) == ""
    assert len(jupyter.sparkline([float(i) for i in range(1000)]).split("points=")[1].split()) <= 201


def test_card_of_a_disabled_run_says_nothing_is_stored() -> None:
    run = tracker.init(mode="disabled", name="a<script>")
    card = jupyter.card_html(run)
    assert "nowhere (mode=disabled)" in card and "a&lt;script&gt;" in card and "<script>" not in card
    assert run._disabled_dir is None  # showing the card created no directory
