"""README's Python examples run as written, so the documentation cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_python

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README lost its examples"
    (tmp_path / "data").mkdir()  # the user's data folder the artifact example versions
    (tmp_path / "data" / "train.csv").write_text("x,y\n1,2\n")
    for block in blocks:
        result = run_python(block, cwd=tmp_path)
        assert "Traceback" not in result.stderr
    assert (tmp_path / "tracker-runs" / "projects" / "demo").is_dir()
    assert (tmp_path / "artifacts" / "dataset:v0" / "train.csv").read_text() == "x,y\n1,2\n"
