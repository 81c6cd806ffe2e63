"""tracker/ruff.toml keeps the Hydra stack and the packages above tracker out of tracker/ (DESIGN.md's layering)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BANNED = ("hydra", "hydra_plugins", "omegaconf", "submitit", "launcher", "sweeps")


def _banned_imports(tree: Path, relative: str, source: str) -> list[tuple[int, str]]:
    """(line, message) of each banned import ruff reports in ``source`` written at ``tree/relative``."""
    path = tree / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json", "--select", "TID251", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return [
        (found["location"]["row"], found["message"])
        for found in json.loads(result.stdout)
        if found["code"] == "TID251" and Path(found["filename"]) == path
    ]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's ruff configuration, with empty packages to write files into."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tracker").mkdir()
    shutil.copy(ROOT / "tracker" / "ruff.toml", tmp_path / "tracker" / "ruff.toml")
    return tmp_path


@pytest.mark.parametrize("module", BANNED)
def test_tracker_cannot_import_a_banned_package(tree: Path, module: str) -> None:
    source = f"import {module}\nimport {module}.sub as sub\nfrom {module}.sub import name\n\n\ndef lazy():\n"
    source += f"    import {module}\n\n    return {module}, sub, name\n"
    found = _banned_imports(tree, "tracker/integrations/bad.py", source)
    assert [line for line, _ in found] == [1, 2, 3, 7]
    assert all(f"`{module}` is banned" in message for _, message in found)


def test_tracker_may_import_its_own_modules_and_others_may_import_hydra(tree: Path) -> None:
    allowed = "import hydra\nimport omegaconf\n\nimport tracker\n\nprint(hydra, omegaconf, tracker)\n"
    assert _banned_imports(tree, "launcher/ok.py", allowed) == []
    own = "import os\n\nimport tracker\nfrom tracker import _layout\n\nprint(os, tracker, _layout)\n"
    assert _banned_imports(tree, "tracker/ok.py", own) == []
