"""Hydra's own launcher test suites, run against the tracked launchers (in-process and submitit-local)."""

from __future__ import annotations

import pytest
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite


@pytest.fixture(autouse=True)
def track_into_tmp(tmp_path, monkeypatch):
    """Every job of the suites is tracked; keep the store inside the test's directory."""
    monkeypatch.setenv("TRACKER_DIR", str(tmp_path / "store"))


@pytest.mark.parametrize(
    ("launcher_name", "overrides"),
    [("tracked", []), pytest.param("tracked_submitit_local", ["hydra.launcher.timeout_min=2"], marks=pytest.mark.slow)],
)
class TestTrackedLaunchers(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [
        ({"defaults": [{"override hydra/launcher": "tracked"}]}, ["-m"]),
        pytest.param(
            {
                "defaults": [{"override hydra/launcher": "tracked_submitit_local"}],
                "hydra": {"launcher": {"timeout_min": 2, "gpus_per_node": 0, "tasks_per_node": 1}},
            },
            ["-m"],
            marks=pytest.mark.slow,
        ),
    ],
)
class TestTrackedLaunchersIntegration(IntegrationTestSuite):
    pass
