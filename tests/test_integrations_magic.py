"""magic=: argparse and absl flags land in the run's config, from real scripts run as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tracker.integrations import magic

ARGPARSE_AFTER_INIT = """
import argparse, tracker
run = tracker.init(project="m", id="after", magic=MAGIC)
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--layers", type=int, nargs="+", default=[1])
args, rest = parser.parse_known_args()
run.log({"x": 1})
tracker.finish()
"""

ARGPARSE_BEFORE_INIT = """
import argparse, pathlib, tracker
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("o"))
args = parser.parse_args()
run = tracker.init(project="m", id="before", magic=True)
tracker.finish()
"""

ABSL = """
from absl import app, flags
import tracker
flags.DEFINE_float("lr", 0.5, "learning rate")
flags.DEFINE_string("optimizer", "sgd", "optimizer")

def main(argv):
    tracker.init(project="m", id="absl", magic=True)
    tracker.finish()

app.run(main)
"""


def _run_script(tmp_path: Path, source: str, *args: str) -> None:
    script = tmp_path / "script.py"
    script.write_text(source)
    env = {**os.environ, "TRACKER_DIR": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _config(tmp_path: Path, run_id: str) -> dict:
    return dict(tracker.Api(dir=tmp_path / "store").run(f"m/{run_id}").config)


@pytest.mark.parametrize("form", ["True", "{'argparse': True}", "'{\"absl\": false}'"])
def test_argparse_parsed_after_init(tmp_path: Path, form: str) -> None:
    _run_script(tmp_path, ARGPARSE_AFTER_INIT.replace("MAGIC", form), "--lr", "0.01", "--layers", "2", "3", "--x")
    assert _config(tmp_path, "after") == {"lr": 0.01, "layers": [2, 3]}


def test_argparse_switched_off_in_the_dict_form(tmp_path: Path) -> None:
    _run_script(tmp_path, ARGPARSE_AFTER_INIT.replace("MAGIC", "{'argparse': False}"), "--lr", "0.01")
    assert _config(tmp_path, "after") == {}


def test_argparse_parsed_before_init(tmp_path: Path) -> None:
    _run_script(tmp_path, ARGPARSE_BEFORE_INIT, "--lr", "0.2", "--out", "results")
    assert _config(tmp_path, "before") == {"lr": 0.2, "out": "results"}


def test_absl_flags(tmp_path: Path) -> None:
    _run_script(tmp_path, ABSL, "--lr", "0.25")
    config = _config(tmp_path, "absl")
    assert config == {"lr": 0.25, "optimizer": "sgd"}


ABSL_INIT_FIRST = """
from absl import app, flags
import tracker
flags.DEFINE_integer("epochs", 3, "epochs")
tracker.init(project="m", id="abslfirst", magic=True)

def main(argv):
    tracker.finish()

app.run(main)
"""


def test_absl_flags_parsed_after_init(tmp_path: Path) -> None:
    _run_script(tmp_path, ABSL_INIT_FIRST, "--epochs", "7")
    assert _config(tmp_path, "abslfirst") == {"epochs": 7}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, {"argparse": True, "absl": True}),
        (False, None),
        ({}, None),
        ({"absl": False}, {"argparse": True, "absl": False}),
        ({"enable": False, "argparse": True}, None),
        ({"args": {"argparse": False}}, {"argparse": False, "absl": True}),
        ({"args": {"argparse": False, "absl": False}}, None),
        ('{"argparse": false, "absl": false}', None),
    ],
)
def test_parse_forms(value: object, expected: object) -> None:
    assert magic.parse(value) == expected


def test_parse_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "magic.yaml"
    path.write_text("absl: false\n")
    assert magic.parse(str(path)) == {"argparse": True, "absl": False}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"keras": True}, "'keras' is not a magic setting"),
        ({"argparse": "yes"}, "argparse='yes' must be true or false"),
        ("not json nor a file", "neither JSON nor the path of a YAML file"),
        (3, "must be a bool, a dict"),
    ],
)
def test_parse_errors(value: object, message: str, store: Path) -> None:
    with pytest.raises(tracker.UsageError, match=message):
        tracker.init(dir=store, magic=value)


def test_argparse_is_given_back_at_finish(store: Path) -> None:
    import argparse

    original = argparse.ArgumentParser.parse_known_args
    run = tracker.init(dir=store, project="p", magic={"absl": False})
    assert argparse.ArgumentParser.parse_known_args is not original
    run.finish()
    assert argparse.ArgumentParser.parse_known_args is original
