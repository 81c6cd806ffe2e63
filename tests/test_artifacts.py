"""Artifacts: versions, deduplication, aliases, lineage, downloads checked by digest, and their edges.

Crash and race cases use real processes: a child SIGKILLed right after log_artifact() returned, and two
children released at once by a marker file to log the same name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracker
from tests.conftest import wait_for, wait_for_file
from tracker.cli import main as cli


def _files(tmp_path: Path, **contents: str) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name, text in contents.items():
        (folder / name).write_text(text)
    return folder


def test_versions_deduplicate_and_aliases_move(store, tmp_path):
    data = _files(tmp_path, a="one", b="two")
    with tracker.init(project="p", dir=store) as run:
        first = tracker.Artifact("data", "dataset", metadata={"rows": 2})
        first.add_dir(data)
        run.log_artifact(first, aliases=["best"])
        again = tracker.Artifact("data", "dataset")
        again.add_file(data / "b", "b")  # the same files added in another order: the same content
        again.add_file(data / "a", "a")
        run.log_artifact(again)
        (data / "a").write_text("changed")
        changed = run.log_artifact(str(data), name="data", type="dataset")
    assert (first.version, again.version, changed.version) == ("v0", "v0", "v1")
    assert again.digest == first.digest != changed.digest
    api = tracker.Api(store)
    assert [artifact.aliases for artifact in api.artifact_versions("p", "data")] == [["best"], ["latest"]]
    assert api.artifact("p/data").version == "v1" and api.artifact("p/data:best").metadata == {"rows": 2}
    blobs = list((store / "tracker-runs" / "artifacts" / "p" / "blobs").rglob("*"))
    assert len([blob for blob in blobs if blob.is_file()]) == 3  # "one", "two", "changed": each once


def test_use_and_download_record_lineage_and_check_digests(store, tmp_path):
    data = _files(tmp_path, weights="w" * 1000)
    with tracker.init(project="p", dir=store, id="producer") as run:
        artifact = tracker.Artifact("model", "model")
        artifact.add_dir(data, name="checkpoint")
        artifact.add_reference("s3://bucket/big.bin")
        with artifact.new_file("notes/readme.md") as handle:
            handle.write("# model")
        run.log_artifact(artifact)
    with tracker.init(project="p", dir=store, id="consumer") as run:
        used = run.use_artifact("model:v0", type="model")
        target = Path(used.download(tmp_path / "got"))
    assert (target / "checkpoint" / "weights").read_text() == "w" * 1000
    assert (target / "notes" / "readme.md").read_text() == "# model"
    assert not (target / "big.bin").exists()  # a reference is recorded, not copied
    assert used.get_entry("big.bin").ref == "s3://bucket/big.bin"
    api = tracker.Api(store)
    assert [a.qualified_name for a in api.run("p/producer").logged_artifacts()] == ["p/model:v0"]
    assert [a.qualified_name for a in api.run("p/consumer").used_artifacts()] == ["p/model:v0"]
    blob = next(
        path
        for path in (store / "tracker-runs" / "artifacts").rglob("*")
        if path.is_file() and path.stat().st_size == 1000
    )
    blob.chmod(0o644)
    blob.write_text("x" * 1000)
    with pytest.raises(tracker.Error, match="damaged"):
        api.artifact("p/model").download(tmp_path / "again")
    assert not (tmp_path / "again" / "checkpoint" / "weights").exists()


def test_bad_input_is_refused_with_the_rule(store, tmp_path):
    with pytest.raises(tracker.UsageError, match="letters, digits"):
        tracker.Artifact("bad/name", "dataset")
    artifact = tracker.Artifact("ok", "dataset")
    with pytest.raises(tracker.UsageError, match="is not a file"):
        artifact.add_file(tmp_path / "missing")
    with pytest.raises(tracker.UsageError, match=r"'\.\.' parts"):
        artifact.add_file(__file__, name="../escape.py")
    with pytest.raises(tracker.UsageError, match="must be a URI"):
        artifact.add_reference("just-a-name")
    artifact.add_file(__file__)
    with tracker.init(project="p", dir=store) as run:
        with pytest.raises(tracker.UsageError, match="looks like a version"):
            run.log_artifact(artifact, aliases=["v7"])
        run.log_artifact(artifact)
        with pytest.raises(tracker.UsageError, match="is logged"):
            artifact.add_file(__file__, name="again.py")
        with pytest.raises(tracker.UsageError, match="is of type 'dataset', not 'model'"):
            run.use_artifact("ok", type="model")
        with pytest.raises(tracker.Error, match="no alias 'nosuch'"):
            run.use_artifact("ok:nosuch")
        with pytest.raises(tracker.Error, match="no artifact p/other"):
            run.use_artifact("other")


KILLED = """
import sys, tracker
with open(sys.argv[2] + "/data.bin", "wb") as handle:
    handle.write(b"x" * 3_000_000)
run = tracker.init(project="p", dir=sys.argv[1], id="killed")
artifact = tracker.Artifact("data", "dataset")
artifact.add_file(sys.argv[2] + "/data.bin")
run.log_artifact(artifact, aliases=["fresh"])
open(sys.argv[2] + "/logged", "w").close()
import time
time.sleep(600)
"""


def test_a_version_logged_before_sigkill_is_complete(store, tmp_path):
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(store), str(tmp_path)])
    try:
        wait_for_file(tmp_path / "logged", timeout=120)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    artifact = tracker.Api(store).artifact("p/data:fresh")
    assert artifact.version == "v0" and artifact.size == 3_000_000
    assert (Path(artifact.download(tmp_path / "got")) / "data.bin").stat().st_size == 3_000_000
    assert [a.version for a in tracker.Api(store).run("p/killed").logged_artifacts()] == ["v0"]


RACER = """
import os, sys, time, tracker
store, folder, which = sys.argv[1], sys.argv[2], sys.argv[3]
with open(os.path.join(folder, which + ".txt"), "w") as handle:
    handle.write(which * 1000)
run = tracker.init(project="p", dir=store)
artifact = tracker.Artifact("shared", "dataset")
artifact.add_file(os.path.join(folder, which + ".txt"), name="content.txt")
open(os.path.join(folder, which + ".ready"), "w").close()
while not os.path.exists(os.path.join(folder, "go")):
    time.sleep(0.001)
run.log_artifact(artifact)
print(artifact.version)
run.finish()
"""


def test_two_processes_logging_one_name_get_distinct_versions(store, tmp_path):
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(store), str(tmp_path), which], stdout=subprocess.PIPE, text=True
        )
        for which in ("a", "b")
    ]
    wait_for(lambda: all((tmp_path / f"{which}.ready").exists() for which in ("a", "b")), "both racers ready")
    (tmp_path / "go").touch()
    versions = sorted(child.communicate(timeout=120)[0].strip() for child in children)
    assert versions == ["v0", "v1"]
    stored = tracker.Api(store).artifact_versions("p", "shared")
    assert len({artifact.digest for artifact in stored}) == 2
    contents = {(Path(a.download(tmp_path / a.version)) / "content.txt").read_text()[0] for a in stored}
    assert contents == {"a", "b"}


def test_cli_lists_and_gets(store, tmp_path):
    data = _files(tmp_path, a="<b>bold</b>")
    with tracker.init(project="p", dir=store) as run:
        run.log_artifact(str(data / "a"), name="markup", type="text", aliases=["mine"])
    runner = CliRunner()
    listed = runner.invoke(cli, ["--dir", str(store), "artifact", "ls", "p", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["name"], row["version"], row["aliases"], row["files"]) == ("markup", "v0", ["latest", "mine"], 1)
    got = runner.invoke(cli, ["--dir", str(store), "artifact", "get", "p/markup:mine", "--root", str(tmp_path / "o")])
    assert got.exit_code == 0, got.output
    assert (tmp_path / "o" / "a").read_text() == "<b>bold</b>"
    missing = runner.invoke(cli, ["--dir", str(store), "artifact", "get", "p/markup:nope"])
    assert missing.exit_code == 2 and "no alias 'nope'" in missing.output
    bad = runner.invoke(cli, ["--dir", str(store), "artifact", "ls", "p/../etc"])
    assert bad.exit_code == 2 and "letters, digits" in bad.output


def test_restore_and_log_code(store, tmp_path, monkeypatch):
    source = tmp_path / "project"
    (source / "pkg").mkdir(parents=True)
    (source / "train.py").write_text("print('train')\n")
    (source / "pkg" / "model.py").write_text("X = 1\n")
    (source / "notes.txt").write_text("not code\n")
    (source / ".venv").mkdir()
    (source / ".venv" / "site.py").write_text("skipped\n")
    monkeypatch.chdir(source)
    with tracker.init(project="p", dir=store, id="saver") as run:
        run.save("notes.txt", policy="now")
        code = run.log_code(".")
    assert code.type == "code" and sorted(code.manifest) == ["pkg/model.py", "train.py"]
    with tracker.init(project="p", dir=store) as run:
        handle = tracker.restore("notes.txt", run_path="p/saver", root=str(tmp_path / "restored"))
        assert handle.read() == "not code\n"
        handle.close()
        with pytest.raises(tracker.UsageError, match="no such file"):
            tracker.restore("missing.txt", run_path="p/saver", root=str(tmp_path / "restored"))


def test_the_porting_script_runs_unchanged(store):
    script = Path(__file__).parent / "porting" / "wandb_artifacts.py"
    result = subprocess.run(
        [sys.executable, str(script)], env={**os.environ, "TRACKER_DIR": str(store)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    consumer = next(run for run in tracker.Api(store).runs("porting") if run.name == "artifacts-consumer")
    [used] = consumer.used_artifacts()
    assert used.aliases == ["baseline", "latest"] and sorted(used.manifest) == ["labels.txt", "train.csv"]


def test_disabled_runs_log_nothing(tmp_path):
    run = tracker.init(mode="disabled")
    artifact = tracker.Artifact("x", "dataset")
    artifact.add_file(__file__)
    assert run.log_artifact(artifact).version is None
    run.finish()
