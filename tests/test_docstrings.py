"""Docstrings: the ``>>>`` examples of tracker/ and sweeps/ run, and the main entry points document each argument.

The examples run in the isolated environment every test gets (clean_environment in conftest.py: a fresh
cwd, no settings or credentials file, no TRACKER_* from the shell).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import pytest

import sweeps
import tracker

MODULES = sorted(
    name
    for package in (tracker, sweeps)
    for name in [package.__name__]
    + [found.name for found in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
)


def _examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder(exclude_empty=True).find(module) if test.examples]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_pass(module_name: str) -> None:
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in _examples(module_name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_the_public_modules_have_examples() -> None:
    """The finder sees the examples (an import or discovery problem would otherwise pass silently)."""
    assert _examples("tracker")
    assert _examples("tracker.util")
    assert _examples("sweeps.identity")


@pytest.mark.parametrize(
    "function", [tracker.init, tracker.Run.log, tracker.Run.define_metric, tracker.Run.finish, tracker.Api.runs]
)
def test_entry_points_document_every_argument(function: Callable[..., Any]) -> None:
    docstring = inspect.getdoc(function) or ""
    assert "\nArgs:\n" in docstring, f"{function.__qualname__} has no Args: section"
    documented = re.findall(r"^    (\w+): ", docstring.split("\nArgs:\n", 1)[1], flags=re.MULTILINE)
    expected = [name for name in inspect.signature(function).parameters if name != "self"]
    assert documented == expected
