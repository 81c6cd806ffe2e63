"""What ships: `pip install .` gives a working Hydra plugin, and `import tracker` pulls in nothing of Hydra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# what only the Hydra side (launcher, plugin, sweeps) may import
HYDRA_SIDE = ("hydra", "omegaconf", "submitit", "hydra_plugins", "launcher", "sweeps", "antlr4")

APP = """
import hydra

@hydra.main(config_path=None, config_name="config", version_base="1.3")
def main(cfg):
    print("job ran with lr", cfg.lr)

if __name__ == "__main__":
    from hydra.core.config_store import ConfigStore
    ConfigStore.instance().store(name="config", node={"lr": 0.1, "tracker": {"project": "fresh", "mode": "offline"}})
    main()
"""


def test_import_tracker_imports_nothing_of_hydra():
    code = "import sys, tracker; print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "tracker" in loaded and not set(HYDRA_SIDE) & set(loaded)


def test_no_plugin_reports_itself_buggy():
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--info", "plugins"], capture_output=True, text=True, check=True
    )
    output = result.stdout + result.stderr
    assert "TrackedLauncher" in output and "TrackedSlurmLauncher" in output
    assert "buggy" not in output and "Error importing" not in output


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_gives_a_working_plugin(tmp_path: Path):
    """A real venv (no system site-packages), `pip install <repo>`, a Hydra app with the tracked launcher."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    result = subprocess.run(
        [str(python), "app.py", "-m", "lr=0.1,0.2", "hydra/launcher=tracked", f"hydra.sweep.dir={tmp_path / 'out'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "buggy" not in output and "Error importing" not in output
    assert output.count("job ran with lr") == 2
    assert len(list((tmp_path / "tracker-runs" / "projects" / "fresh").iterdir())) == 2  # tracked by our launcher
