"""Phases as data: the official schedule, its optimizer groups, rates and frozen parts."""

from __future__ import annotations

import pytest

from protopool.config import Config
from protopool.models import build_model
from protopool.training.phases import build_phases, make_optimizer
from tests.protopool.fixtures import tiny_config


def optimizer_groups(config: Config, phase_name: str) -> tuple[dict, object]:
    """``({group name: (lr, weight decay)}, model)`` after building the phase's optimizer."""
    model = build_model(config, num_classes=3)
    phase = next(p for p in build_phases(config) if p.name == phase_name)
    optimizer = make_optimizer(model, phase, config.train.lr)
    groups = {g["name"]: (g["lr"], g["weight_decay"]) for g in optimizer.param_groups}
    return groups, model


def test_the_schedule_is_warmup_joint_projection_finetune() -> None:
    phases = build_phases(tiny_config())
    assert [p.name for p in phases] == ["warmup", "joint", "projection", "finetune"]
    assert [p.learnable_assignment for p in phases] == [True, True, False, False]
    # After projection the frozen backbone's batch norms must not move the latent patches.
    assert [p.frozen_norms_eval for p in phases] == [False, False, False, True]
    finetune = phases[-1].loss
    assert (finetune.cluster, finetune.separation, finetune.orthogonality) == (0, 0, 0)
    assert finetune.cross_entropy == 1 and finetune.l1 == pytest.approx(1e-4)
    no_projection = build_phases(tiny_config(project=False))
    assert [p.name for p in no_projection] == ["warmup", "joint"]


def test_warmup_freezes_the_backbone_and_the_last_layer() -> None:
    config = tiny_config(lr=1e-3, weight_decay=1e-3)
    groups, model = optimizer_groups(config, "warmup")
    # Official rates: add-on, prototypes and slot logits at 3 lr; decay on the add-on only.
    assert groups == {
        "add_on": (pytest.approx(3e-3), 1e-3),
        "prototypes": (pytest.approx(3e-3), 0.0),
        "slot_logits": (pytest.approx(3e-3), 0.0),
    }
    assert not any(p.requires_grad for p in model.features.parameters())
    assert not model.last_layer.weight.requires_grad


def test_joint_trains_the_backbone_at_a_tenth_but_not_the_last_layer() -> None:
    groups, model = optimizer_groups(tiny_config(lr=1e-3, weight_decay=1e-3), "joint")
    assert groups["backbone"] == (pytest.approx(1e-4), 1e-3)
    assert set(groups) == {"backbone", "add_on", "prototypes", "slot_logits"}
    assert all(p.requires_grad for p in model.features.parameters())
    assert not model.last_layer.weight.requires_grad


def test_finetune_trains_only_the_last_layer() -> None:
    groups, model = optimizer_groups(tiny_config(lr=1e-3, weight_decay=1e-3), "finetune")
    assert groups == {"last_layer": (pytest.approx(1e-4), 1e-3)}
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["last_layer.weight"]
