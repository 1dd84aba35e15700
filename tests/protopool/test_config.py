"""Configuration: paper defaults, YAML, overrides and fix-it errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from protopool.config import ConfigError, config_to_yaml, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_are_the_paper_values() -> None:
    config = load_config(None)
    assert (config.model.num_prototypes, config.model.slots_per_class) == (202, 10)
    assert config.model.gumbel_tau == 0.5 and config.model.similarity == "focal"
    assert (config.model.gumbel_scale_max, config.model.gumbel_scale_epochs) == (1000.0, 30)
    assert config.model.assignment == "gumbel" and config.loss.orthogonality == 1.0
    assert (config.loss.cluster, config.loss.separation, config.loss.l1) == (0.8, 0.08, 1e-4)
    assert config.train.finetune_epochs == 25 and config.data.batch_size == 80


def test_overrides_parse_values_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  similarity: protopnet\ntrain:\n  lr: 0.01\n")
    config = load_config(path, ["train.lr=5e-4", "loss.mixup=false", "data.root=/d"])
    assert config.model.similarity == "protopnet"
    assert config.train.lr == 5e-4 and config.loss.mixup is False and config.data.root == "/d"


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    config = load_config(None, ["model.num_prototypes=50"])
    path = tmp_path / "resolved.yaml"
    path.write_text(config_to_yaml(config))
    assert load_config(path) == config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.similarity=cosine", "unknown similarity"),
        ("model.colour=red", "unknown field"),
        ("model.assignment=sparsemax", "gumbel, softmax"),
        ("model.slots_per_class=300", "cannot exceed"),
        ("train.lr", "section.field=value"),
        ("optim.lr=1", "unknown config section"),
        ("data.epoch_repeats=0", "epoch_repeats must be positive"),
        ("loss.orthogonality_on=diagonal", "slot_logits"),
    ],
)
def test_bad_values_are_fix_it_errors(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path: Path) -> None:
    load_config(path)


def test_distance_mixing_with_a_threshold_is_refused() -> None:
    """An empty slot would mix to distance 0: the highest similarity for every image."""
    with pytest.raises(ConfigError, match="slot_mixing=distances cannot be combined"):
        load_config(None, ["model.slot_mixing=distances", "model.test_assignment=threshold"])


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ([], "threshold"),
        (["model.assignment=softmax"], "argmax"),
        (["model.slot_mixing=distances"], "argmax"),
        (["model.test_assignment=argmax"], "argmax"),
        (["model.assignment=softmax", "model.test_assignment=threshold"], "threshold"),
    ],
)
def test_auto_test_assignment_thresholds_only_the_paper_model(
    overrides: list[str], rule: str
) -> None:
    assert load_config(None, overrides).model.test_time_assignment == rule
