"""``run.config``: every documented source, key filtering, guarded value changes, and what reaches the disk."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

import tracker
from tests.conftest import assert_nothing_written


def stored_config(store: Path, run: tracker.Run) -> dict[str, Any]:
    return tracker.Api(dir=store).run(f"{run.project}/{run.id}").config


def config_file(store: Path, run: tracker.Run) -> dict[str, Any]:
    path = store / "tracker-runs" / "projects" / run.project / run.id / "config.json"
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- sources


def test_dict_config_is_deep_copied(store: Path) -> None:
    """Mutating the caller's dict (even nested parts) after init() changes neither run.config nor the disk."""
    source = {"lr": 0.1, "model": {"layers": [64, 32], "act": "relu"}, "seeds": [1, 2]}
    run = tracker.init(dir=store, project="p", config=source)
    source["lr"] = 0.9
    source["model"]["act"] = "tanh"
    source["model"]["layers"].append(16)
    source["seeds"].clear()
    source["new"] = True
    expected = {"lr": 0.1, "model": {"layers": [64, 32], "act": "relu"}, "seeds": [1, 2]}
    assert run.config.as_dict() == expected
    assert "new" not in run.config
    run.finish()
    assert stored_config(store, run) == expected


def test_dict_config_written_at_init(store: Path) -> None:
    """config.json holds the initial config while the run is still live."""
    run = tracker.init(dir=store, project="p", config={"batch": 32, "name": "exp", "flags": [True, None]})
    assert stored_config(store, run) == {"batch": 32, "name": "exp", "flags": [True, None]}
    assert config_file(store, run) == {"batch": 32, "name": "exp", "flags": [True, None]}


def test_argparse_namespace(store: Path) -> None:
    """An argparse.Namespace becomes its vars()."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(["--lr", "0.5", "--verbose"])
    run = tracker.init(dir=store, project="p", config=args)
    expected = {"lr": 0.5, "epochs": 3, "optimizer": "sgd", "verbose": True}
    assert run.config.as_dict() == expected
    args.lr = 9.0
    assert run.config["lr"] == 0.5
    run.finish()
    assert stored_config(store, run) == expected


def test_absl_flags(store: Path) -> None:
    """absl flags (a FlagValues after parsing argv) become a dict of flag name -> parsed value."""
    from absl import flags

    flag_values = flags.FlagValues()
    flags.DEFINE_integer("batch_size", 32, "batch size", flag_values=flag_values)
    flags.DEFINE_float("learning_rate", 0.1, "learning rate", flag_values=flag_values)
    flags.DEFINE_string("dataset", "mnist", "dataset", flag_values=flag_values)
    flags.DEFINE_list("layers", ["64", "32"], "layers", flag_values=flag_values)
    flags.DEFINE_boolean("augment", False, "augment", flag_values=flag_values)
    flag_values(["prog", "--batch_size=128", "--dataset=cifar", "--augment"])
    run = tracker.init(dir=store, project="p", config=flag_values)
    expected = {
        "batch_size": 128,
        "learning_rate": 0.1,
        "dataset": "cifar",
        "layers": ["64", "32"],
        "augment": True,
    }
    assert run.config.as_dict() == expected
    run.finish()
    assert stored_config(store, run) == expected


def test_yaml_plain_mapping(store: Path, tmp_path: Path) -> None:
    """A YAML path holding a plain mapping is loaded as is (nested values kept)."""
    path = tmp_path / "config.yaml"
    path.write_text("lr: 0.001\nepochs: 10\nmodel:\n  depth: 4\n  widths: [8, 16]\nname: baseline\n", encoding="utf-8")
    run = tracker.init(dir=store, project="p", config=str(path))
    expected = {"lr": 0.001, "epochs": 10, "model": {"depth": 4, "widths": [8, 16]}, "name": "baseline"}
    assert run.config.as_dict() == expected
    run.finish()
    assert stored_config(store, run) == expected


def test_yaml_path_object(store: Path, tmp_path: Path) -> None:
    """A pathlib.Path to a YAML file works like a str path."""
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert tracker.init(dir=store, config=path).config.as_dict() == {"a": 1}


def test_yaml_value_desc_form(store: Path, tmp_path: Path) -> None:
    """The documented 'key: {value: X, desc: ...}' form keeps X; wandb_version and _wandb are dropped."""
    path = tmp_path / "config-defaults.yaml"
    path.write_text(
        "wandb_version: 1\n"
        "_wandb:\n  desc: null\n  value: {cli_version: 0.1}\n"
        "lr:\n  desc: learning rate\n  value: 0.01\n"
        "epochs:\n  value: 5\n"
        "layers:\n  desc: sizes\n  value: [3, 4]\n"
        "plain: 7\n"
        "opt:\n  value: 1\n  momentum: 0.9\n",
        encoding="utf-8",
    )
    run = tracker.init(dir=store, project="p", config=str(path))
    expected = {
        "lr": 0.01,
        "epochs": 5,
        "layers": [3, 4],
        "plain": 7,
        "opt": {"value": 1, "momentum": 0.9},  # not the value/desc form: kept as a mapping
    }
    assert run.config.as_dict() == expected
    run.finish()
    assert stored_config(store, run) == expected


def test_empty_yaml_file(store: Path, tmp_path: Path) -> None:
    """An empty YAML file is an empty config, not an error."""
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert tracker.init(dir=store, config=str(path)).config.as_dict() == {}


def test_omegaconf_dictconfig_resolved(store: Path) -> None:
    """An OmegaConf DictConfig becomes plain containers with interpolations resolved."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {
            "base_lr": 0.1,
            "optim": {"lr": "${base_lr}", "name": "adam"},
            "data": {"root": "/data", "train": "${data.root}/train"},
            "sizes": [1, "${base_lr}"],
        }
    )
    run = tracker.init(dir=store, project="p", config=cfg)
    expected = {
        "base_lr": 0.1,
        "optim": {"lr": 0.1, "name": "adam"},
        "data": {"root": "/data", "train": "/data/train"},
        "sizes": [1, 0.1],
    }
    assert run.config.as_dict() == expected
    assert type(run.config["optim"]) is dict
    assert type(run.config["sizes"]) is list
    cfg.base_lr = 0.5
    assert run.config["optim"]["lr"] == 0.1
    run.finish()
    assert stored_config(store, run) == expected


def test_omegaconf_in_update(store: Path) -> None:
    """config.update() accepts a DictConfig too."""
    from omegaconf import OmegaConf

    run = tracker.init(dir=store, project="p", config={"a": 1})
    run.config.update(OmegaConf.create({"b": {"c": "${a2}"}, "a2": 2}))
    assert run.config.as_dict() == {"a": 1, "b": {"c": 2}, "a2": 2}


@pytest.mark.parametrize(
    "config",
    [42, 3.5, [("a", 1)], ("a", 1), {1, 2}, object(), b"a: 1"],
    ids=["int", "float", "list", "tuple", "set", "object", "bytes"],
)
def test_unsupported_config_type(config: object, store: Path) -> None:
    """Unsupported config types raise UsageError naming the type; nothing written."""
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, project="p", config=config)
    assert type(config).__name__ in str(caught.value)
    assert_nothing_written(store)


def test_omegaconf_listconfig_rejected(store: Path) -> None:
    """A ListConfig is not a mapping: UsageError, nothing written."""
    from omegaconf import OmegaConf

    with pytest.raises(tracker.UsageError):
        tracker.init(dir=store, project="p", config=OmegaConf.create([1, 2]))
    assert_nothing_written(store)


def test_non_string_keys_rejected(store: Path) -> None:
    """Config keys must be strings."""
    with pytest.raises(tracker.UsageError, match="keys must be strings"):
        tracker.init(dir=store, project="p", config={1: "a"})
    assert_nothing_written(store)


def test_missing_yaml_file(store: Path, tmp_path: Path) -> None:
    """A config path that does not exist is a UsageError naming it; nothing written."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, project="p", config=str(path))
    assert str(path) in str(caught.value)
    assert_nothing_written(store)


def test_invalid_yaml_file(store: Path, tmp_path: Path) -> None:
    """A config file that is not YAML is a UsageError naming it; nothing written."""
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: {", encoding="utf-8")
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, project="p", config=str(path))
    assert str(path) in str(caught.value)
    assert_nothing_written(store)


def test_yaml_list_at_top_rejected(store: Path, tmp_path: Path) -> None:
    """A YAML file holding a list (not a mapping) is a UsageError; nothing written."""
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(tracker.UsageError, match="mapping"):
        tracker.init(dir=store, project="p", config=str(path))
    assert_nothing_written(store)


# ---------------------------------------------------------------- include / exclude


NESTED = {"lr": 0.1, "epochs": 3, "model": {"depth": 4, "width": 8, "act": {"name": "relu", "slope": 0.1}}}


def test_include_keys(store: Path) -> None:
    """config_include_keys keeps only the listed top-level keys."""
    run = tracker.init(dir=store, project="p", config=NESTED, config_include_keys=["lr", "missing"])
    assert run.config.as_dict() == {"lr": 0.1}
    run.finish()
    assert stored_config(store, run) == {"lr": 0.1}


def test_include_dotted_paths(store: Path) -> None:
    """Dotted include paths reach into nested dicts and keep only that branch."""
    run = tracker.init(
        dir=store, project="p", config=NESTED, config_include_keys=["epochs", "model.width", "model.act.name"]
    )
    expected = {"epochs": 3, "model": {"width": 8, "act": {"name": "relu"}}}
    assert run.config.as_dict() == expected
    run.finish()
    assert stored_config(store, run) == expected


def test_exclude_keys(store: Path) -> None:
    """config_exclude_keys drops the listed top-level keys."""
    run = tracker.init(dir=store, project="p", config=NESTED, config_exclude_keys=["model", "missing"])
    assert run.config.as_dict() == {"lr": 0.1, "epochs": 3}


def test_exclude_dotted_paths(store: Path) -> None:
    """Dotted exclude paths drop one nested key and keep its siblings; the caller's dict is untouched."""
    source = json.loads(json.dumps(NESTED))
    run = tracker.init(
        dir=store, project="p", config=source, config_exclude_keys=["model.width", "model.act.slope", "x.y"]
    )
    expected = {"lr": 0.1, "epochs": 3, "model": {"depth": 4, "act": {"name": "relu"}}}
    assert run.config.as_dict() == expected
    assert source == NESTED
    run.finish()
    assert stored_config(store, run) == expected


def test_literal_dotted_key_wins(store: Path) -> None:
    """A key that literally contains a dot is matched as that key, not as a path."""
    config = {"a.b": 1, "a": {"b": 2, "c": 3}}
    assert tracker.init(dir=store, config=config, config_include_keys=["a.b"]).config.as_dict() == {"a.b": 1}
    tracker.finish()
    assert tracker.init(dir=store, config=config, config_exclude_keys=["a.b"]).config.as_dict() == {
        "a": {"b": 2, "c": 3}
    }


def test_filters_apply_to_yaml_and_namespace(store: Path, tmp_path: Path) -> None:
    """Filtering works on every source, not only dicts."""
    path = tmp_path / "c.yaml"
    path.write_text("keep:\n  value: 1\ndrop: 2\n", encoding="utf-8")
    assert tracker.init(dir=store, config=str(path), config_exclude_keys=["drop"]).config.as_dict() == {"keep": 1}
    tracker.finish()
    namespace = argparse.Namespace(a=1, b=2)
    assert tracker.init(dir=store, config=namespace, config_include_keys=["b"]).config.as_dict() == {"b": 2}


def test_include_and_exclude_together(store: Path) -> None:
    """Both filters at once is a UsageError naming both; nothing written."""
    with pytest.raises(tracker.UsageError) as caught:
        tracker.init(dir=store, project="p", config=NESTED, config_include_keys=["lr"], config_exclude_keys=["epochs"])
    assert "config_include_keys" in str(caught.value)
    assert "config_exclude_keys" in str(caught.value)
    assert_nothing_written(store)


@pytest.mark.parametrize("keys", [[1], [""], 5, [None]])
@pytest.mark.parametrize("argument", ["config_include_keys", "config_exclude_keys"])
def test_bad_filter_keys(argument: str, keys: object, store: Path) -> None:
    """Filter lists must hold non-empty strings; the error names the argument; nothing written."""
    with pytest.raises(tracker.UsageError, match=argument):
        tracker.init(dir=store, project="p", config=NESTED, **{argument: keys})
    assert_nothing_written(store)


# ---------------------------------------------------------------- changing values


def test_changing_value_raises_config_error(store: Path) -> None:
    """Changing an existing value raises ConfigError naming key, old and new value; nothing changes."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1, "opt": "sgd"})
    with pytest.raises(tracker.ConfigError) as caught:
        run.config["lr"] = 0.25
    message = str(caught.value)
    assert "'lr'" in message and "0.1" in message and "0.25" in message
    assert isinstance(caught.value, tracker.Error)
    with pytest.raises(tracker.ConfigError, match=r"'opt'.*'sgd'.*'adam'"):
        run.config.opt = "adam"
    with pytest.raises(tracker.ConfigError, match=r"'lr'.*0\.1.*0\.5"):
        run.config.update({"lr": 0.5})
    assert run.config.as_dict() == {"lr": 0.1, "opt": "sgd"}
    assert stored_config(store, run) == {"lr": 0.1, "opt": "sgd"}


def test_failed_update_is_all_or_nothing(store: Path) -> None:
    """An update that would change one key adds none of its other keys."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1})
    with pytest.raises(tracker.ConfigError):
        run.config.update({"new": 1, "lr": 0.2})
    assert "new" not in run.config
    assert stored_config(store, run) == {"lr": 0.1}


def test_setting_same_value_is_fine(store: Path) -> None:
    """Re-setting an equal value raises nothing and changes nothing."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1, "model": {"depth": 2}})
    run.config["lr"] = 0.1
    run.config.lr = 0.1
    run.config.update({"lr": 0.1, "model": {"depth": 2}})
    assert run.config.as_dict() == {"lr": 0.1, "model": {"depth": 2}}


def test_allow_val_change_at_init(store: Path) -> None:
    """init(allow_val_change=True) lets values change, and the change reaches the disk."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1}, allow_val_change=True)
    run.config["lr"] = 0.2
    assert run.config["lr"] == 0.2
    run.config.lr = 0.3
    run.config.update({"lr": 0.4})
    assert run.config.lr == 0.4
    assert stored_config(store, run) == {"lr": 0.4}


def test_allow_val_change_in_settings(store: Path) -> None:
    """allow_val_change is also a setting."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1}, settings={"allow_val_change": True})
    run.config["lr"] = 0.2
    assert run.config["lr"] == 0.2


def test_allow_val_change_false_at_init(store: Path) -> None:
    """init(allow_val_change=False) keeps the guard."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1}, allow_val_change=False)
    with pytest.raises(tracker.ConfigError):
        run.config["lr"] = 0.2


def test_allow_val_change_in_update(store: Path) -> None:
    """config.update(..., allow_val_change=True) changes a value; later plain changes are still guarded."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1, "bs": 8})
    run.config.update({"lr": 0.2, "extra": "x"}, allow_val_change=True)
    assert run.config.as_dict() == {"lr": 0.2, "bs": 8, "extra": "x"}
    assert stored_config(store, run) == {"lr": 0.2, "bs": 8, "extra": "x"}
    with pytest.raises(tracker.ConfigError):
        run.config["lr"] = 0.3


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_bad_allow_val_change(value: object, store: Path) -> None:
    """allow_val_change must be a bool; nothing written."""
    with pytest.raises(tracker.UsageError, match="allow_val_change"):
        tracker.init(dir=store, project="p", allow_val_change=value)  # type: ignore[arg-type]
    assert_nothing_written(store)


# ---------------------------------------------------------------- access and disk


def test_attribute_and_item_access(store: Path) -> None:
    """run.config supports attribute and item access, in/len/iter/get, and new keys by either form."""
    run = tracker.init(dir=store, project="p", config={"lr": 0.1, "model": {"depth": 3}})
    assert run.config.lr == 0.1
    assert run.config["lr"] == 0.1
    assert run.config.model == {"depth": 3}
    assert "lr" in run.config and "nope" not in run.config
    assert len(run.config) == 2
    assert sorted(run.config) == ["lr", "model"]
    assert run.config.get("nope", "default") == "default"
    assert dict(run.config.items()) == {"lr": 0.1, "model": {"depth": 3}}
    with pytest.raises(AttributeError):
        _ = run.config.nope
    with pytest.raises(KeyError):
        _ = run.config["nope"]
    run.config.batch = 64
    run.config["epochs"] = 2
    assert run.config["batch"] == 64 and run.config.epochs == 2
    assert run.config == {"lr": 0.1, "model": {"depth": 3}, "batch": 64, "epochs": 2}


def test_module_level_config_proxy(store: Path) -> None:
    """tracker.config forwards to the current run's config; without a run it says to call init()."""
    with pytest.raises(tracker.Error, match="init"):
        _ = tracker.config["x"]
    run = tracker.init(dir=store, project="p", config={"x": 1})
    tracker.config["y"] = 2
    tracker.config.z = 3
    assert tracker.config.x == 1
    assert run.config.as_dict() == {"x": 1, "y": 2, "z": 3}
    assert stored_config(store, run) == {"x": 1, "y": 2, "z": 3}


def test_disk_matches_after_updates(store: Path) -> None:
    """config.json follows every change, live and after finish, as read by Api and from the file."""
    run = tracker.init(dir=store, project="p", config={"a": 1})
    run.config["b"] = [1, 2]
    assert stored_config(store, run) == {"a": 1, "b": [1, 2]}
    run.config.c = {"d": "e"}
    assert stored_config(store, run) == {"a": 1, "b": [1, 2], "c": {"d": "e"}}
    run.config.update({"a": 5}, allow_val_change=True)
    run.config.setdefaults({"a": 99, "f": None})
    expected = {"a": 5, "b": [1, 2], "c": {"d": "e"}, "f": None}
    assert run.config.as_dict() == expected
    assert stored_config(store, run) == expected
    assert config_file(store, run) == expected
    run.finish()
    assert stored_config(store, run) == expected
    assert config_file(store, run) == expected


def test_update_from_namespace_and_yaml(store: Path, tmp_path: Path) -> None:
    """config.update() accepts the same sources as init(config=...)."""
    run = tracker.init(dir=store, project="p")
    run.config.update(argparse.Namespace(a=1))
    path = tmp_path / "u.yaml"
    path.write_text("b:\n  value: 2\n  desc: two\n", encoding="utf-8")
    run.config.update(str(path))
    assert stored_config(store, run) == {"a": 1, "b": 2}
    with pytest.raises(tracker.UsageError):
        run.config.update(42)
    assert stored_config(store, run) == {"a": 1, "b": 2}


def test_mutating_config_after_finish(store: Path) -> None:
    """After finish(), every config mutation raises UsageError and the stored config stays as it was."""
    run = tracker.init(dir=store, project="p", config={"a": 1})
    run.finish()
    with pytest.raises(tracker.UsageError, match="finished"):
        run.config["b"] = 2
    with pytest.raises(tracker.UsageError, match="finished"):
        run.config.b = 2
    with pytest.raises(tracker.UsageError, match="finished"):
        run.config.update({"b": 2})
    with pytest.raises(tracker.UsageError, match="finished"):
        run.config.update({"a": 2}, allow_val_change=True)
    assert run.config["a"] == 1
    assert "b" not in run.config
    assert stored_config(store, run) == {"a": 1}


def test_disabled_run_config_works_and_writes_nothing(store: Path) -> None:
    """A disabled run keeps config in memory (same guards) and writes nothing."""
    run = tracker.init(dir=store, project="p", mode="disabled", config={"a": 1})
    run.config["b"] = 2
    with pytest.raises(tracker.ConfigError):
        run.config["a"] = 3
    assert run.config.as_dict() == {"a": 1, "b": 2}
    run.finish()
    with pytest.raises(tracker.UsageError):
        run.config["c"] = 3
    assert_nothing_written(store)


class _Unstorable:
    pass


def test_unstorable_config_value_is_a_usage_error_and_writes_nothing(store: Path) -> None:
    with pytest.raises(tracker.UsageError, match="'optimizer'"):
        tracker.init(project="p", dir=store, config={"optimizer": _Unstorable()}, id="r1")
    assert_nothing_written(store)
    run = tracker.init(project="p", dir=store, id="r1")  # the id is free again: no lock was left behind
    with pytest.raises(tracker.UsageError, match="'optimizer'"):
        run.config.update({"optimizer": _Unstorable()})
    assert "optimizer" not in run.config
    run.finish()
    assert tracker.Api(dir=store).run("p/r1").state == "finished"


def test_concurrent_config_updates_from_threads(store: Path) -> None:
    import threading

    run = tracker.init(project="p", dir=store)

    def update(prefix: str) -> None:
        for index in range(300):
            run.config.update({f"{prefix}{index}": index})

    threads = [threading.Thread(target=update, args=(prefix,)) for prefix in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    assert len(tracker.Api(dir=store).run(f"p/{run.id}").config) == 600
