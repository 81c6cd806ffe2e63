"""The CLI's views over runs written by init(): global options anywhere, config columns, compare, history
exports, errors that list what exists, confirmations without a terminal, sweeps by prefix and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import tracker
from tests.conftest import wait_for, wait_for_file
from tracker.cli import main
from tracker.cli._common import ROOT_HELP

TRACKER = str(Path(sys.executable).with_name("tracker"))
MARKUP_NAME = "[bold red]not markup[/bold red]"


def make_run(store: Path, run_id: str, config: dict, losses: list[float], group: str, **kwargs) -> None:
    run = tracker.init(project="p", dir=store, id=run_id, group=group, config=config, reinit=True, **kwargs)
    for loss in losses:
        run.log({"loss": loss, "acc": 1 - loss})
    run.finish()


@pytest.fixture
def views(store: Path) -> Path:
    """Group train-x (two lrs, two seeds of one), then the newer group train-a (one seed, one failed run)."""
    base = {"opt": {"name": "adam", "beta": 0.9}, "epochs": 3}
    for run_id, lr, seed, losses in (
        ("xlr1s0", 0.1, 0, [0.9, 0.5, 0.3]),
        ("xlr1s1", 0.1, 1, [0.8, 0.4, 0.2]),
        ("xlr2s0", 0.01, 0, [0.7, 0.6, 0.5]),
    ):
        name = MARKUP_NAME if run_id == "xlr2s0" else None
        make_run(store, run_id, {**base, "lr": lr, "seed": seed}, losses, "train-x", name=name)
    make_run(store, "alr1s0", {**base, "lr": 0.1, "seed": 0}, [0.6, 0.1], "train-a")
    failed = tracker.init(project="p", dir=store, id="alr2s0", group="train-a", reinit=True, config={**base, "lr": 0.2})
    failed.log({"loss": 2.0, "acc": 0.0})
    failed.finish(exit_code=1)
    return store


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def as_json(*args: str):
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_usage_error(result, *expected: str) -> None:
    """Exit 2 with one ``error:`` line (no traceback) naming each expected text."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])


def test_global_options_before_or_after_the_command(views, tmp_path):
    before = as_json("--dir", str(views), "runs")
    after = invoke("runs", "-p", "p", "--dir", str(views), "--json")
    ids = [row["id"] for row in before]
    assert after.exit_code == 0 and [row["id"] for row in json.loads(after.stdout)] == ids and len(ids) == 5
    first = invoke("--json", "--dir", str(views), "runs")
    assert first.exit_code == 0 and [row["id"] for row in json.loads(first.stdout)] == ids
    empty = str(tmp_path / "empty")
    assert invoke("--dir", empty, "runs", "--dir", str(views)).exit_code == 0  # the command's own value wins
    assert_usage_error(invoke("--dir", str(views), "runs", "--dir", empty), "no runs here", "empty")
    for command in (["show", "xlr1s0"], ["history", "xlr1s0"], ["compare", "xlr1s0", "xlr1s1"], ["sweep", "train-x"]):
        result = invoke(*command, "--dir", str(views), "--json")
        assert result.exit_code == 0 and json.loads(result.stdout), (command, result.stderr)
    real = subprocess.run([TRACKER, "runs", "--json", "--dir", str(views)], capture_output=True, text=True, timeout=60)
    assert real.returncode == 0 and [row["id"] for row in json.loads(real.stdout)] == ids


def test_a_sweep_by_prefix_is_the_most_recent_with_a_note(views):
    chosen = invoke("--dir", str(views), "sweep", "train", "--json", "--no-fail")
    assert chosen.exit_code == 0 and json.loads(chosen.stdout)["group"] == "train-a"  # created after train-x
    assert "most recent" in chosen.stderr and "p/train-x" in chosen.stderr
    exact = invoke("--dir", str(views), "sweep", "train-x", "--json")
    assert exact.exit_code == 0 and json.loads(exact.stdout)["group"] == "train-x" and "most recent" not in exact.stderr


def test_unknown_metrics_sort_keys_columns_and_keys_are_errors_listing_what_exists(views):
    store = str(views)
    assert_usage_error(invoke("--dir", store, "runs", "--sort", "accuracy"), "'accuracy'", "acc", "loss", "created")
    assert_usage_error(invoke("--dir", store, "runs", "--metric", "nosuch"), "'nosuch'", "summary metric", "loss")
    assert_usage_error(invoke("--dir", store, "runs", "-c", "optimizer.lr"), "'optimizer.lr'", "opt.name", "lr")
    assert_usage_error(invoke("--dir", store, "history", "xlr1s0", "-k", "loss,nosuch"), "'nosuch'", "acc", "loss")
    assert_usage_error(invoke("--dir", store, "sweep", "train-x", "--metric", "accx"), "'accx'", "acc", "loss")
    assert invoke("--dir", store, "history", "xlr1s0", "-k", "loss,acc").exit_code == 0


def test_config_values_as_columns_and_sort_keys(views):
    rows = as_json("--dir", str(views), "runs", "-c", "lr,opt.name", "-m", "loss", "--sort", "-lr", "-g", "train-x")
    assert [row["config"] for row in rows] == [
        {"lr": 0.1, "opt.name": "adam"},
        {"lr": 0.1, "opt.name": "adam"},
        {"lr": 0.01, "opt.name": "adam"},
    ]
    table = invoke("--dir", str(views), "runs", "-c", "lr", "-c", "opt.beta", "-g", "train-x")
    header = table.stdout.splitlines()[1]
    assert "lr" in header and "opt.beta" in header and "0.01" in table.stdout and "0.9" in table.stdout


def test_compare_shows_differing_config_and_summaries_side_by_side(views):
    report = as_json("--dir", str(views), "compare", "xlr1s0", "xlr2s0", "p/xlr1s1")
    assert [run["id"] for run in report["runs"]] == ["xlr1s0", "xlr2s0", "xlr1s1"]
    assert report["config"] == {"lr": [0.1, 0.01, 0.1], "seed": [0, 0, 1]}
    assert report["same_config"] == {"opt.name": "adam", "opt.beta": 0.9, "epochs": 3}
    assert report["summary"]["loss"] == [0.3, 0.5, 0.2] and report["summary"]["_step"] == [2, 2, 2]
    table = invoke("--dir", str(views), "compare", "xlr1s0", "xlr2s0")
    assert table.exit_code == 0 and MARKUP_NAME in table.stdout  # user data is shown, never parsed as markup
    assert "4 keys the same" in table.stdout and "seed" not in table.stdout  # seed is 0 in both
    shared = invoke("--dir", str(views), "compare", "xlr1s0", "xlr2s0", "--all")
    assert "adam" in shared.stdout and "epochs" in shared.stdout
    assert_usage_error(invoke("--dir", str(views), "compare", "xlr1s0", "p/xlr1s0"), "two runs or more")


def test_history_of_several_runs_last_rows_and_format_from_the_extension(views, tmp_path):
    rows = as_json("--dir", str(views), "history", "xlr1s0", "xlr2s0", "--last", "2")
    assert [(row["_run"], row["_step"]) for row in rows] == [
        ("p/xlr1s0", 1),
        ("p/xlr1s0", 2),
        ("p/xlr2s0", 1),
        ("p/xlr2s0", 2),
    ]
    for name in ("h.csv", "h.json", "h.jsonl", "h.parquet"):
        result = invoke("--dir", str(views), "history", "xlr1s0", "alr1s0", "-o", str(tmp_path / name))
        assert result.exit_code == 0 and "wrote 5 rows" in result.stderr, result.stderr
    expected = as_json("--dir", str(views), "history", "xlr1s0", "alr1s0")
    written = list(csv.DictReader(io.StringIO((tmp_path / "h.csv").read_text())))
    assert list(written[0])[:2] == ["_run", "_step"] and [float(row["loss"]) for row in written] == [
        row["loss"] for row in expected
    ]
    assert json.loads((tmp_path / "h.json").read_text()) == expected
    assert [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()] == expected
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "h.parquet").to_pylist() == expected
    assert_usage_error(invoke("--dir", str(views), "history", "xlr1s0", "-o", "/nonexistent/h.csv"), "/nonexistent")
    assert_usage_error(invoke("--dir", str(views), "history", "xlr1s0", "-o", str(tmp_path / "h.txt")), ".txt")


def test_file_errors_are_one_line_in_a_real_process(views):
    result = subprocess.run(
        [TRACKER, "history", "xlr1s0", "-o", "/nonexistent/h.csv", "--dir", str(views)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: cannot write --output '/nonexistent/h.csv'")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_timestamps_show_as_dates(views):
    run = tracker.Api(views).run("p/xlr1s0")
    stamp = run.history()[0]["_timestamp"]
    table = invoke("--dir", str(views), "history", "xlr1s0")
    assert dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") in table.stdout
    assert "e+09" not in table.stdout
    shown = invoke("--dir", str(views), "show", "xlr1s0")
    created = dt.datetime.fromisoformat(run.created_at.replace("Z", "+00:00")).timestamp()
    assert dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M:%S") in shown.stdout
    assert "e+09" not in shown.stdout


def test_sweep_exit_code_and_no_std_for_one_seed(views):
    failing = invoke("--dir", str(views), "sweep", "train-a", "--metric", "loss")
    assert failing.exit_code == 1 and "1 of 2 jobs failed" in failing.stderr and "lr=0.1" in failing.stdout
    report = as_json("--dir", str(views), "sweep", "train-x", "--metric", "loss")  # no failed job: exit 0
    by_label = {row["label"]: row for row in report["results"]}
    assert by_label["lr=0.01"]["n"] == 1 and by_label["lr=0.01"]["std"] is None
    assert by_label["lr=0.1"]["n"] == 2 and by_label["lr=0.1"]["std"] == pytest.approx(0.0707106781)


def test_rm_and_gc_without_a_terminal_ask_for_yes(views):
    def real(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TRACKER, *args, "--dir", str(views)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
        )

    refused = real("rm", "xlr1s0")
    assert refused.returncode == 2 and "no terminal" in refused.stderr and "-y/--yes" in refused.stderr
    assert tracker.Api(views).run("p/xlr1s0").id == "xlr1s0"
    assert real("rm", "-y", "xlr1s0").returncode == 0
    gc = real("gc")
    assert gc.returncode == 2 and "pass -y/--yes" in gc.stderr and (views / "tracker-runs" / "trash").exists()
    assert real("gc", "--yes").returncode == 0 and not (views / "tracker-runs" / "trash").exists()


FOLLOWED = """
import os, sys, time, tracker
ready, go = sys.argv[1], sys.argv[2]
run = tracker.init(project="p", dir=sys.argv[3], id="followed", reinit=True)
for step in range(3):
    run.log({"loss": step})
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
for step in range(3, 5):
    run.log({"loss": step})
run.finish()
"""


def test_follow_prints_rows_until_the_run_ends(views, tmp_path):
    ready, go = tmp_path / "ready", tmp_path / "go"
    writer = subprocess.Popen([sys.executable, "-c", FOLLOWED, str(ready), str(go), str(views)])
    follower = None
    try:
        wait_for_file(ready)
        follower = subprocess.Popen(
            [TRACKER, "history", "followed", "--follow", "--dir", str(views)], stdout=subprocess.PIPE, text=True
        )
        lines: list[dict] = []
        reader = threading.Thread(target=lambda: lines.extend(json.loads(line) for line in follower.stdout))
        reader.start()
        wait_for(lambda: len(lines) >= 2, "the follower's first two complete steps")
        assert follower.poll() is None  # the run is still running: the follower waits for more
        assert [row["_step"] for row in lines] == [0, 1]  # step 2 may still grow until step 3 starts
        go.touch()
        assert writer.wait(timeout=60) == 0 and follower.wait(timeout=60) == 0
        reader.join(timeout=60)
        assert [(row["_step"], row["loss"]) for row in lines] == [(step, step) for step in range(5)]
    finally:
        go.touch()
        for process in (writer, follower):
            if process is not None and process.poll() is None:
                process.kill()


def test_a_config_key_named_like_a_timestamp_is_shown_as_it_is(store):
    make_run(store, "oddkeys", {"created": "yesterday", "updated": 1e30}, [0.5], "odd")
    shown = invoke("--dir", str(store), "show", "oddkeys")
    assert shown.exit_code == 0 and "yesterday" in shown.stdout and "1e+30" in shown.stdout


def test_server_runs_are_listed_and_compared_with_server_after_the_command(server, views):
    key = server.user("alice")
    env = {**os.environ, "TRACKER_API_KEY": key}
    synced = subprocess.run(
        [TRACKER, "sync", "--server", server.url, "--dir", str(views)], env=env, capture_output=True, text=True
    )
    assert synced.returncode == 0, synced.stderr

    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TRACKER, *args, "--server", server.url, "--json"], env=env, capture_output=True, text=True, timeout=120
        )

    listed = remote("runs", "-p", "p", "-c", "lr", "--sort", "lr")
    assert listed.returncode == 0, listed.stderr
    assert [row["config"]["lr"] for row in json.loads(listed.stdout)] == [0.01, 0.1, 0.1, 0.1, 0.2]
    compared = remote("compare", "xlr1s0", "xlr2s0")
    assert compared.returncode == 0 and json.loads(compared.stdout)["config"]["lr"] == [0.1, 0.01], compared.stderr
    refused = subprocess.run(
        [TRACKER, "--server", server.url, "rm", "-y", "xlr1s0"], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2 and "local store only" in refused.stderr, refused.stderr


def test_the_help_claims_only_what_the_commands_do():
    """The commands the global options' help names accept them after the command too, and nothing else does."""
    for option in ("server", "json"):
        named = ROOT_HELP[option].rsplit("(", 1)[1].rstrip(").").split(", ")
        having = sorted(name for name, command in main.commands.items() if f"--{option}" in _options(command))
        if option == "server":
            having.remove("sync")  # sync's own --server is where it uploads to
        assert sorted(named) == having, option
    storeless = ("server", "login", "logout")  # these read no run store
    assert all("--dir" in _options(command) for name, command in main.commands.items() if name not in storeless)
    assert "compare" in main.commands and "compare" in main.help.split("\n")[0]


def _options(command) -> set[str]:
    return {flag for param in command.params for flag in param.opts}
