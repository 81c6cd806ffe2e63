"""The real ``tracker`` console script over runs made by init() and by a real multirun of train.py."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tracker
from tests.train_app import PROJECT, App

TRACKER = str(Path(sys.executable).with_name("tracker"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> App:
    """A store with a 2x3 sweep of train.py (one job failing) and hand-made runs in project 'misc'."""
    app = App(tmp_path_factory.mktemp("cli"))
    app("-m", "lr=0.1,0.01", "seed=0,1,2", "epochs=6", "fail_if={lr:0.01,seed:2}", expect_ok=False)
    code = textwrap.dedent(f"""
        import tracker
        for index, (name, tags, job_type) in enumerate([("alpha", ["x"], "train"), ("beta", ["x", "y"], "eval"),
                                                        ("gamma", [], "train")]):
            with tracker.init(project="misc", dir={str(app.store)!r}, name=name, tags=tags, job_type=job_type,
                              id=f"misc{{index}}abc", reinit=True) as run:
                for step in range(5):
                    run.log({{"loss": 1.0 / (step + 1 + index), "acc": step / 10}})
    """)
    subprocess.run([sys.executable, "-c", code], env=app.env, check=True, capture_output=True)
    return app


def cli(world: App, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [TRACKER, "--dir", str(world.store), *args],
        capture_output=True,
        text=True,
        input=input,
        env={**world.env, **(env or {}), "COLUMNS": "250"},
        timeout=60,
    )


def cli_json(world: App, *args: str):
    result = cli(world, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runs_table_shows_every_run_with_its_state_and_metric(world):
    result = cli(world, "runs", "--project", PROJECT, "--metric", "val_loss")
    assert result.returncode == 0, result.stderr
    for run in world.runs():
        line = next(line for line in result.stdout.splitlines() if run.id in line)
        assert run.name in line and run.state in line
        assert f"{run.summary['val_loss']:.4g}" in line
    assert result.stdout.count("failed") == 1 and result.stdout.count("finished") == 5


def test_runs_filters_sort_limit_and_json(world):
    names = lambda rows: [row["name"] for row in rows]  # noqa: E731
    assert sorted(names(cli_json(world, "runs", "-p", "misc"))) == ["alpha", "beta", "gamma"]
    assert names(cli_json(world, "runs", "-p", "misc", "--tag", "x", "--tag", "y")) == ["beta"]
    assert sorted(names(cli_json(world, "runs", "-p", "misc", "--job-type", "train"))) == ["alpha", "gamma"]
    assert names(cli_json(world, "runs", "--state", "failed")) == ["epochs=6,fail_if={lr:0.01,seed:2},lr=0.01,seed=2"]
    rows = cli_json(world, "runs", "-p", PROJECT, "-m", "val_loss", "--sort", "val_loss")
    values = [row["metrics"]["val_loss"] for row in rows]
    assert values == sorted(values) and len(rows) == 6
    assert rows[0]["step"] == 5 and rows[0]["state"] == "finished" and rows[0]["runtime"] >= 0
    top = cli_json(world, "runs", "-p", PROJECT, "-m", "val_loss", "--sort", "-val_loss", "--limit", "2")
    assert [row["metrics"]["val_loss"] for row in top] == sorted(values, reverse=True)[:2]
    both = cli_json(world, "runs", "--group", world.runs()[0].group)
    assert {row["project"] for row in both} == {PROJECT} and len(both) == 6
    limited = cli(world, "runs", "--limit", "2")
    assert "showing 2 of 9 runs" in limited.stderr


def test_show_prints_identity_config_summary_metadata_and_files(world):
    run = world.api.run("misc/misc1abc")
    result = cli(world, "show", "misc1")
    assert result.returncode == 0, result.stderr
    for expected in ("misc1abc", "beta", "eval", "x, y", "loss", "acc", "host", "(none)"):
        assert expected in result.stdout, expected
    data = cli_json(world, "show", "misc/misc1abc")
    assert data["summary"] == run.summary and data["config"] == run.config and data["tags"] == ["x", "y"]
    assert data["path"] == run.path == "misc/misc1abc" and data["directory"] == run.directory
    swept = world.runs()[0]
    shown = cli_json(world, "show", swept.id[:6])
    assert shown["metadata"]["hydra"]["override_dirname"] and shown["config"]["lr"] == swept.config["lr"]
    assert "code/train.py" in shown["files"]


def test_history_csv_json_and_parquet_round_trips(world, tmp_path):
    run = world.runs()[0]
    expected = run.history()
    rows = list(csv.DictReader(io.StringIO(cli(world, "history", run.id, "--format", "csv").stdout)))
    assert [int(row["_step"]) for row in rows] == [row["_step"] for row in expected]
    assert [float(row["val_loss"]) for row in rows] == [row["val_loss"] for row in expected]
    assert json.loads(cli(world, "history", run.id, "-f", "json").stdout) == expected
    keyed = json.loads(cli(world, "history", run.id, "-f", "json", "--keys", "val_loss").stdout)
    assert keyed == [{k: row[k] for k in ("_step", "_runtime", "_timestamp", "val_loss")} for row in expected]
    target = tmp_path / "history.parquet"
    assert cli(world, "history", run.id, "-f", "parquet", "-o", str(target)).returncode == 0
    import pyarrow.parquet as pq

    assert pq.read_table(target).to_pylist() == expected
    out = tmp_path / "h.csv"
    assert cli(world, "history", run.id, "-f", "csv", "-o", str(out)).returncode == 0
    assert out.read_text().startswith("_step,")
    table = cli(world, "history", run.id)
    assert table.returncode == 0 and "val_loss" in table.stdout and str(len(expected) - 1) in table.stdout


def test_parquet_without_pyarrow_is_a_clear_error(world, tmp_path):
    blocker = tmp_path / "block"
    (blocker / "pyarrow").mkdir(parents=True)
    (blocker / "pyarrow" / "__init__.py").write_text("raise ImportError('pyarrow is not installed')\n")
    run = world.runs()[0]
    result = cli(
        world, "history", run.id, "-f", "parquet", "-o", str(tmp_path / "x.parquet"), env={"PYTHONPATH": str(blocker)}
    )
    assert result.returncode == 2 and "pip install 'tracker[parquet]'" in result.stderr
    assert cli(world, "history", run.id, "-f", "parquet").returncode == 2


def test_sweep_status_and_mean_std_over_seeds(world):
    group = world.runs()[0].group
    failing = cli(world, "sweep", group[:20], "--metric", "val_loss", "--json")
    assert failing.returncode == 1 and "1 of 6 jobs failed" in failing.stderr  # for scripts: a failed job fails
    report = cli_json(world, "sweep", group[:20], "--metric", "val_loss", "--no-fail")
    assert json.loads(failing.stdout) == report and report["group"] == group
    assert report["status"] == {"finished": 5, "failed": 1}
    by_label = {row["label"]: row for row in report["results"]}
    assert set(by_label) == {"lr=0.1", "lr=0.01"}
    for lr, row, seeds in ((0.1, by_label["lr=0.1"], [0, 1, 2]), (0.01, by_label["lr=0.01"], [0, 1])):
        finished = [run for run in world.runs(group=group) if run.config["lr"] == lr and run.state == "finished"]
        values = [run.summary["val_loss"] for run in finished]
        assert row["n"] == len(seeds) and sorted(row["seeds"]) == seeds  # the failed run is not averaged
        assert row["excluded"] == 3 - len(seeds) and len(row["runs"]) == 3
        assert row["mean"] == pytest.approx(statistics.fmean(values))
        assert row["std"] == pytest.approx(statistics.stdev(values))
    best = min(report["results"], key=lambda row: row["mean"])
    assert best["best"] and sum(row["best"] for row in report["results"]) == 1
    maxed = cli_json(world, "sweep", group, "--metric", "val_loss", "--goal", "max", "--no-fail")
    assert max(maxed["results"], key=lambda row: row["mean"])["best"]
    text = cli(world, "sweep", group, "--metric", "val_loss", "--no-fail")
    assert text.returncode == 0 and "5 finished" in text.stdout
    assert "1 failed" in text.stdout and "lr=0.1" in text.stdout


def test_error_paths_exit_with_code_2(world, tmp_path):
    unknown = cli(world, "show", "zzzz")
    assert unknown.returncode == 2 and "no run matches 'zzzz'" in unknown.stderr
    ambiguous = cli(world, "show", "misc")
    assert ambiguous.returncode == 2 and "ambiguous" in ambiguous.stderr and "misc/misc0abc" in ambiguous.stderr
    assert cli(world, "show", "misc/nope").returncode == 2
    assert cli(world, "sweep", "no-such-group").returncode == 2
    nowhere = subprocess.run([TRACKER, "--dir", str(tmp_path / "empty"), "runs"], capture_output=True, text=True)
    assert nowhere.returncode == 2 and "no runs here" in nowhere.stderr
    assert cli(world, "runs", "--state", "bogus").returncode == 2


def test_rm_moves_to_trash_and_gc_empties_it(world, tmp_path):
    store = tmp_path / "store"
    env = {**world.env, "TRACKER_DIR": str(store)}
    for name in ("keep", "drop"):
        tracker.init(project="p", dir=store, name=name, id=f"{name}run", reinit=True).finish()
    local = App(tmp_path)
    refused = cli(local, "rm", "droprun", input="n\n")
    assert refused.returncode != 0 and (store / "tracker-runs" / "projects" / "p" / "droprun").exists()
    removed = cli(local, "rm", "droprun", "p/droprun", "--yes", env=env)  # one run named twice
    assert removed.returncode == 0, removed.stderr
    assert [run.name for run in tracker.Api(store).runs("p")] == ["keep"]
    trash = store / "tracker-runs" / "trash" / "p"
    assert any(path.name.startswith("droprun.removed.") for path in trash.iterdir())
    live = tracker.init(project="p", dir=store, id="liverun", reinit=True)
    busy = cli(local, "rm", "liverun", "--yes")
    assert busy.returncode == 2 and "running" in busy.stderr
    live.finish()
    assert cli(local, "gc", "--yes").returncode == 0 and not trash.exists()
    assert "empty" in cli(local, "gc", "--yes").stderr
    assert os.path.isdir(store / "tracker-runs" / "projects" / "p" / "keeprun")
