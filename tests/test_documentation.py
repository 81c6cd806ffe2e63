"""README's Python examples run as written, so the documentation cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_python

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README lost its examples"
    for block in blocks:
        result = run_python(block, cwd=tmp_path)
        assert "Traceback" not in result.stderr
    assert (tmp_path / "tracker-runs" / "projects" / "demo").is_dir()
