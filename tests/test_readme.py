"""README's shell blocks run as written (with the substitutions listed here), so they cannot drift from the code.

Substitutions stay cheap and visible: `.venv/bin/` is this interpreter's bin directory, `train.py` the
repository's, placeholders such as `<id>` a real run id, sweeps get fewer epochs and trials, `rm`/`gc` get
`-y` (no terminal to confirm on), and every output goes to a temporary directory. The Python blocks are
run by tests/test_documentation.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tests.train_app import PROJECT, REPO

README = REPO / "README.md"
BIN = Path(sys.executable).parent
FAST = "epochs=2"
SLURM_BLOCK = ".venv/bin/python train.py -m lr=0.1,0.01 seed=0,1,2 hydra/launcher=tracked_slurm"
# how every shell block starts (its first command, or the start of it), and the test that runs the block
RUNNERS = {
    "bash scripts/main.sh": "test_the_two_commands_and_the_cli_block",
    ".venv/bin/python train.py": "test_the_training_block",
    SLURM_BLOCK: "tests/test_slurm.py",
    ".venv/bin/tracker runs": "test_the_two_commands_and_the_cli_block",
    ".venv/bin/tracker server": "test_the_server_block",
    ".venv/bin/tracker ui": "test_the_dashboard_block",
}


def shell_blocks() -> list[list[str]]:
    """README's indented blocks as commands: comments dropped, continuation lines joined."""
    blocks: list[list[str]] = []
    previous_blank, current = True, None
    for line in README.read_text().splitlines():
        if line.startswith("    ") and (current is not None or previous_blank):
            current = current if current is not None else []
            text = line.strip()
            if current and current[-1].endswith("\\"):
                current[-1] = current[-1][:-1].rstrip() + " " + text
            else:
                current.append(text)
        elif current is not None:
            blocks.append([re.sub(r"\s+#\s.*$", "", command).strip() for command in current])
            current = None
        previous_blank = not line.strip()
    return [block for block in blocks if not block[0].startswith(("import ", "with ", "view "))]


def key_of(commands: list[str]) -> str | None:
    """The RUNNERS key of a block: its first command exactly, else the longest key it starts with."""
    first = commands[0]
    if first in RUNNERS:
        return first
    return max((key for key in RUNNERS if first.startswith(key + " ")), key=len, default=None)


def block(key: str) -> list[str]:
    (found,) = [commands for commands in shell_blocks() if key_of(commands) == key]
    return found


def shell(command: str, cwd: Path, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One README command through bash, with the interpreter and train.py of this checkout."""
    command = command.replace(".venv/bin/", f"{BIN}/").replace(" train.py", f" {REPO / 'train.py'}")
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TRACKER_DIR": str(tmp_path), "TRACKER_SILENT": "false"}


def hydra_dirs(tmp_path: Path) -> str:
    return f"{FAST} hydra.sweep.dir={tmp_path / 'multirun'} hydra.run.dir={tmp_path / 'outputs'}"


def test_every_shell_block_is_run_by_a_test():
    keys = [key_of(commands) for commands in shell_blocks()]
    assert sorted(keys, key=str) == sorted(RUNNERS), "a README shell block without a test: add it to RUNNERS"


def test_the_training_block(tmp_path: Path):
    env = environment(tmp_path)
    for command in block(".venv/bin/python train.py"):
        shell(f"{command.replace('n_trials=20', 'n_trials=3')} {hydra_dirs(tmp_path)}", tmp_path, env)
    runs = tracker.Api(tmp_path).runs(PROJECT)
    assert len(runs) == 1 + 6 + 2 + 2 + 3 and {run.state for run in runs} == {"finished"}
    assert len({run.group for run in runs}) == 5  # four sweeps and the single run (no group)


@pytest.mark.slow
def test_the_two_commands_and_the_cli_block(tmp_path: Path):
    env = environment(tmp_path)
    main, test = block("bash scripts/main.sh")
    shell(f"{main} {hydra_dirs(tmp_path)}", REPO, env)
    shell(f"{test} -q -p no:cacheprovider tests/test_packaging.py -k import_tracker", REPO, env)  # a slice of it
    runs = tracker.Api(tmp_path).runs(PROJECT)
    assert len(runs) == 6 and {run.state for run in runs} == {"finished"}
    victim, other = runs[0].id, runs[1].id
    for command in block(".venv/bin/tracker runs"):
        command = command.replace("<id-prefix>", victim[:6]).replace("<other-id>", other).replace("<id>", victim)
        command = re.sub(r"tracker (rm|gc)\b", r"tracker \1 -y", command)  # no terminal here to confirm on
        shell(command, tmp_path, env)
    assert (tmp_path / "h.csv").read_text().count("\n") == 3  # header and two epochs
    assert len(tracker.Api(tmp_path).runs(PROJECT)) == 5
    assert not list((tmp_path / "tracker-runs" / "trash").rglob("run.json"))


def test_the_dashboard_block(tmp_path: Path):
    """`tracker ui --open` serves the store's runs (on a free port; BROWSER=true stands in for a browser)."""
    import urllib.request

    import orjson

    from tests.conftest import free_port, wait_for

    (command,) = block(".venv/bin/tracker ui")
    with tracker.init(project="demo", dir=tmp_path, name="shown"):
        pass
    port = free_port()
    env = {**environment(tmp_path), "BROWSER": "true"}
    command = command.replace(".venv/bin/", f"{BIN}/")
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command} --port {port}"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def names() -> list[str]:
        assert process.poll() is None, "tracker ui exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/ui/runs", timeout=30) as answer:
                return [run["name"] for run in orjson.loads(answer.read())["runs"]]
        except OSError:
            return []

    try:
        wait_for(lambda: names() == ["shown"], "the run in the README's tracker ui")
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_server_block(tmp_path: Path):
    """The team server as README starts it (on a free port instead of 8080), a login, an online sweep, sync."""
    from tests.conftest import LiveServer, free_port  # LiveServer only to wait for health and stop

    commands = block(".venv/bin/tracker server")
    port = free_port()
    env = {**environment(tmp_path / "store"), "HOME": str(tmp_path / "home")}

    def local(command: str) -> str:
        return command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")

    server = LiveServer(tmp_path / "tracker-server", None)
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    first, postgres_line, add_user, login, train, sync, remote_runs = commands
    assert first == ".venv/bin/tracker server" and postgres_line.startswith(".venv/bin/tracker server --db postgresql")
    server.process = subprocess.Popen(
        ["bash", "-c", f"exec {BIN}/tracker server --port {port}"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from tests.conftest import wait_for

        wait_for(lambda: _healthy(server.url), "the README's server")
        key = shell(add_user, tmp_path, env).stdout.strip().splitlines()[-1]
        shell(local(login), tmp_path, env, stdin=f"{key}\n")
        shell(f"{train} {hydra_dirs(tmp_path)}", tmp_path, env)
        shell(sync, tmp_path, env)
        listed = shell(local(remote_runs), tmp_path, env).stdout
        assert "epochs=2,lr=0.1" in listed and "epochs=2,lr=0.01" in listed
    finally:
        server.stop()


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_the_server_blocks_postgresql_line(tmp_path: Path, database: str):
    """`tracker server --db postgresql://... --workers 4 --host 0.0.0.0` on a throwaway database and a free port."""
    from tests.conftest import free_port, wait_for

    line = block(".venv/bin/tracker server")[1]
    assert line.startswith(".venv/bin/tracker server --db postgresql://tracker@127.0.0.1:5432/tracker ")
    port = free_port()
    command = line.replace("postgresql://tracker@127.0.0.1:5432/tracker", database).replace(".venv/bin/", f"{BIN}/")
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command} --port {port}"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: process.poll() is None and _healthy(f"http://127.0.0.1:{port}"), "the PostgreSQL server")
    finally:
        process.terminate()
        process.wait(timeout=120)
