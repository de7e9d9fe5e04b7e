"""Typed configuration: defaults, YAML, flags, unknown keys, bad values, round trips."""

from dataclasses import dataclass
from typing import Literal

import pytest
import yaml

from rnnkit.config import (
    ConfigError,
    Section,
    from_dict,
    option,
    parse_flags,
    resolve,
    settings,
    to_dict,
    to_yaml,
)
from rnnkit.train import OptimConfig, TrainConfig


@dataclass(frozen=True)
class Model(Section):
    """A toy model section."""

    cell: Literal["lstm", "gru"] = option("lstm", "cell type")
    hidden_size: int = option(8, "hidden units", low=1)
    sizes: tuple[int, ...] = option((4, 2), "layer sizes", low=1)
    scale: float | None = option(None, "optional scale", low=0)


@dataclass(frozen=True)
class Config:
    """A toy task."""

    model: Model = Model()
    optim: OptimConfig = OptimConfig(lr=0.01)
    train: TrainConfig = TrainConfig()


def test_defaults_come_from_the_task_not_only_the_section():
    config = resolve(Config)
    assert config.optim.lr == 0.01 and config.optim.name == "adam"
    assert {s.key: s.default for s in settings(Config)}["optim.lr"] == 0.01


def test_yaml_then_flags_override_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  hidden_size: 32\n  sizes: [3, 5]\noptim:\n  lr: 1e-3\n  name: sgd\n")
    config = resolve(Config, path, {"optim.lr": "3e-3", "model.scale": "0.5", "model.cell": "gru"})
    assert config.model.hidden_size == 32 and config.model.sizes == (3, 5)
    assert config.optim.name == "sgd"
    assert config.optim.lr == 3e-3  # the flag wins over the file; "1e-3" strings parse too
    assert config.model.scale == 0.5 and config.model.cell == "gru"


def test_unknown_keys_suggest_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'optim.l' — did you mean 'optim.lr'\?"):
        resolve(Config, flags={"optim.l": "1"})
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentun: 0.5\n")
    with pytest.raises(
        ConfigError,
        match=r"c\.yaml:3: unknown key 'optim.momentun' — did you mean 'optim.momentum'",
    ):
        resolve(Config, path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("optim.lr", "fast", r"--optim.lr: expected a number, got 'fast'"),
        ("optim.lr", "0", r"--optim.lr: must be > 0"),
        ("model.hidden_size", "2.5", r"expected an integer"),
        ("model.cell", "transformer", r"expected one of 'lstm', 'gru'"),
        ("train.progress", "maybe", r"expected true or false"),
        ("model.sizes", "4,0", r"must be >= 1"),
    ],
)
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        resolve(Config, flags={key: value})


def test_yaml_tags_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: optim.lr: not a plain value"):
        resolve(Config, path)


def test_yaml_dump_round_trips(tmp_path):
    config = resolve(Config, flags={"model.sizes": "1,2,3", "optim.lr": "0.5", "model.scale": "2"})
    text = to_yaml(config)
    assert "# hidden units" in text  # field docs become comments
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert resolve(Config, path) == config
    assert yaml.safe_load(text)["model"]["sizes"] == [1, 2, 3]
    assert from_dict(Config, to_dict(config)) == config


def test_sections_check_values_on_construction():
    with pytest.raises(ConfigError, match="lr: must be > 0"):
        OptimConfig(lr=-1.0)


def test_parse_flags_forms():
    assert parse_flags(["--a.b", "1", "--c.d=x"]) == {"a.b": "1", "c.d": "x"}
    with pytest.raises(ConfigError, match="missing value"):
        parse_flags(["--a.b"])
    with pytest.raises(ConfigError, match="unexpected argument"):
        parse_flags(["stray"])
