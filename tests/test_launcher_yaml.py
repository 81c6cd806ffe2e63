"""launcher.tracking.tracker_yaml: a job config's ``tracker`` node as plain values, or a clear error."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

import tracker
from launcher.tracking import tracker_yaml


def test_the_tracker_node_becomes_plain_values_resolved() -> None:
    config = OmegaConf.create({"name": "exp", "tracker": {"project": "demo", "notes": "${name}", "tags": ["a"]}})
    assert tracker_yaml(config) == {"project": "demo", "notes": "exp", "tags": ["a"]}
    assert tracker_yaml(OmegaConf.create({"lr": 0.1})) == {}


def test_a_tracker_node_that_is_not_a_mapping_is_a_usage_error() -> None:
    with pytest.raises(tracker.UsageError, match=r"tracker=5 must be a mapping"):
        tracker_yaml(OmegaConf.create({"tracker": 5}))
