"""The code's shape: one definition of init()'s settings keywords, typed settings, no import cycles in tracker."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

import tracker
from launcher import tracking
from launcher.config import TrackerConf
from tracker._settings import ENVIRONMENT, FIELDS, INIT_KEYWORDS

ROOT = Path(__file__).resolve().parents[1]
# init()'s parameters that are not settings: init() handles them itself
NOT_SETTINGS = {
    "config",
    "config_exclude_keys",
    "config_include_keys",
    "magic",
    "monitor_gym",
    "settings",
    "sync_tensorboard",
    "tensorboard",
}
LAUNCHER_ONLY = {"summary_metric"}  # YAML keys the tracked launchers read themselves


def test_init_signature_settings_and_yaml_schema_agree() -> None:
    """init()'s keywords, the Settings table and the launcher's YAML schema name the same keys."""
    parameters = inspect.signature(tracker.init).parameters
    settings = {field.name for field in dataclasses.fields(tracker.Settings) if not field.name.startswith("_")}
    assert set(FIELDS) == settings
    assert set(INIT_KEYWORDS) == set(parameters) - NOT_SETTINGS
    assert set(INIT_KEYWORDS.values()) <= settings and set(ENVIRONMENT.values()) <= settings
    assert all(parameters[keyword].default is None for keyword in INIT_KEYWORDS)  # None means "not given"
    schema = {field.name for field in dataclasses.fields(TrackerConf)}
    assert schema - LAUNCHER_ONLY <= set(parameters)
    assert set(tracking._INIT_KEYS) == schema & set(INIT_KEYWORDS)
    shipped = yaml.safe_load((ROOT / "conf" / "tracker" / "default.yaml").read_text(encoding="utf-8"))
    assert set(shipped) - {"defaults"} == schema


def test_yaml_keys_reach_init_as_settings() -> None:
    """Each YAML key that is an init() keyword is validated as the setting it stands for."""
    for keyword in tracking._INIT_KEYS:
        with pytest.raises(tracker.UsageError, match=f"tracker.{keyword}"):
            tracking.validate({keyword: object()})


def test_settings_are_a_typed_frozen_dataclass() -> None:
    settings = tracker.Settings(project="demo")
    assert dataclasses.is_dataclass(settings)
    assert inspect.get_annotations(tracker.Settings)["project"] == "str"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.project = "other"  # type: ignore[misc]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The tracker modules a module imports when it is loaded (imports inside functions are not)."""
    found: set[str] = set()
    nodes = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(submodules & modules or {node.module})
        elif isinstance(node, ast.If | ast.Try | ast.With):  # the blocks that run at import
            nodes.extend(ast.iter_child_nodes(node))
    return found & modules


def test_no_two_tracker_modules_import_each_other() -> None:
    paths = sorted((ROOT / "tracker").rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    imports = {_module_name(path): _module_level_imports(path, modules) for path in paths}
    assert imports["tracker._run"] and "tracker._process" in imports["tracker._run"]  # the parser sees imports
    pairs = sorted(
        (module, other)
        for module, targets in imports.items()
        for other in targets
        if module < other and module in imports[other]
    )
    assert pairs == []
