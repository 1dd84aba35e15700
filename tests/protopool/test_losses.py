"""Loss terms against hand-computed values."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from protopool.config import Config
from protopool.losses import (
    NonFiniteLossError,
    Targets,
    cluster_and_separation,
    cross_entropy,
    off_class_l1,
    plain_targets,
    protopool_loss,
    raw_logit_orthogonality,
    slot_orthogonality,
)
from protopool.models import ProtoPoolOutput, build_model


def one_hot_slots(assignment: list[list[int]], pool: int) -> torch.Tensor:
    """(C, P, K) from each class's list of prototype indices."""
    return F.one_hot(torch.tensor(assignment), pool).permute(0, 2, 1).float()


def test_orthogonality_is_zero_when_slots_are_disjoint() -> None:
    slots = one_hot_slots([[0, 1, 2], [2, 3, 4]], pool=5)
    assert slot_orthogonality(slots).item() == pytest.approx(0.0)


def test_orthogonality_counts_each_repeated_pair() -> None:
    # Class 0 repeats prototype 1 in two slots: one pair with cosine 1; class 1 is disjoint.
    slots = one_hot_slots([[1, 1, 2], [0, 3, 4]], pool=5)
    assert slot_orthogonality(slots).item() == pytest.approx(0.5)


def test_orthogonality_is_positive_for_any_overlap() -> None:
    slots = torch.full((1, 4, 2), 0.25)
    assert slot_orthogonality(slots).item() == pytest.approx(1.0)
    overlap = torch.tensor([[[0.9, 0.0], [0.1, 0.1], [0.0, 0.9]]])
    assert slot_orthogonality(overlap).item() > 0


def test_raw_logit_variant_removes_the_diagonal() -> None:
    logits = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    assert raw_logit_orthogonality(logits).item() == pytest.approx(0.0)


def test_cluster_and_separation_use_the_class_top_k_prototypes() -> None:
    slots = one_hot_slots([[0, 1], [2, 3]], pool=4)
    min_dist = torch.tensor([[4.0, 2.0, 1.0, 8.0], [3.0, 5.0, 7.0, 6.0]])
    cluster, separation = cluster_and_separation(min_dist, slots, torch.tensor([0, 1]))
    assert cluster.item() == pytest.approx((2.0 + 6.0) / 2)
    assert separation.item() == pytest.approx((1.0 + 3.0) / 2)


def test_l1_ignores_own_class_weights(config: Config) -> None:
    model = build_model(config, num_classes=3)
    assert off_class_l1(model).item() == 0
    with torch.no_grad():
        model.last_layer.weight[0, 5] = -0.5
        model.last_layer.weight[1, 2] = 3.0
    assert off_class_l1(model).item() == pytest.approx(0.5)


def test_mixup_cross_entropy_mixes_both_labels() -> None:
    logits = torch.tensor([[2.0, 0.0]])
    a, b = torch.tensor([0]), torch.tensor([1])
    mixed = cross_entropy(logits, Targets(a, b, 0.25))
    expected = 0.25 * F.cross_entropy(logits, a) + 0.75 * F.cross_entropy(logits, b)
    assert mixed.item() == pytest.approx(expected.item())


def test_total_loss_is_the_weighted_sum_of_independently_computed_terms(config: Config) -> None:
    model = build_model(config, num_classes=3)
    with torch.no_grad():
        model.last_layer.weight.add_(0.2 * torch.rand_like(model.last_layer.weight))
    labels = torch.tensor([0, 1, 2, 1])
    scale = 4.0
    out = model(torch.randn(4, 3, 32, 32), scale)
    loss, stats = protopool_loss(out, plain_targets(labels), model, config.loss, scale)

    ce = F.cross_entropy(out.logits, labels)
    slots = config.model.slots_per_class
    own_min, other_min = [], []
    for b, label in enumerate(labels.tolist()):
        usage = out.slot_probs[label].detach().sum(dim=1)
        ranked = usage.argsort(descending=True).tolist()
        own, other = ranked[:slots], ranked[slots:]
        own_min.append(min(out.min_distances[b, p] for p in own))
        other_min.append(min(out.min_distances[b, p] for p in other))
    cluster = torch.stack(own_min).mean()
    separation = torch.stack(other_min).mean()
    weight = model.last_layer.weight
    off_class = sum(
        weight[c, j].abs() for c in range(3) for j in range(weight.shape[1]) if j // slots != c
    )
    expected_slots = (model.slot_logits * scale / config.model.gumbel_tau).softmax(dim=1)
    ortho = torch.stack(
        [
            sum(
                F.cosine_similarity(expected_slots[c, :, i], expected_slots[c, :, j], dim=0)
                for i in range(slots)
                for j in range(i + 1, slots)
            )
            for c in range(3)
        ]
    ).mean()
    w = config.loss
    expected = ce + w.cluster * cluster - w.separation * separation + w.l1 * off_class + ortho
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["separation"] == pytest.approx(-w.separation * separation.item(), rel=1e-5)
    assert stats["orthogonality"] == pytest.approx(ortho.item(), rel=1e-5)
    assert stats["loss"] == pytest.approx(loss.item())


def test_non_finite_loss_names_the_term(config: Config) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(2, 3, 32, 32), 5.0)
    broken = ProtoPoolOutput(
        out.logits, torch.full_like(out.min_distances, float("nan")), out.slot_probs, out.distances
    )
    weights = dataclasses.replace(config.loss, separation=0.0)
    # Only the weighted term is named: separation (weight 0) is not part of the loss.
    with pytest.raises(NonFiniteLossError, match=r"in term\(s\) cluster;"):
        protopool_loss(broken, plain_targets(torch.tensor([0, 1])), model, weights)


def test_zero_weight_terms_are_left_out(config: Config) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(2, 3, 32, 32), 5.0)
    weights = dataclasses.replace(config.loss, separation=0.0, l1=0.0, orthogonality=0.0)
    _, stats = protopool_loss(out, plain_targets(torch.tensor([0, 1])), model, weights)
    assert set(stats) == {"cross_entropy", "cluster", "loss"}


@pytest.mark.parametrize(
    "variant",
    ["scaled_distributions", "slot_logits", "slot_distributions", "gumbel_samples", "raw_logits"],
)
def test_orthogonality_variants_give_a_finite_term(config: Config, variant: str) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(2, 3, 32, 32), 5.0)
    weights = dataclasses.replace(config.loss, orthogonality_on=variant)
    loss, stats = protopool_loss(out, plain_targets(torch.tensor([0, 1])), model, weights)
    assert torch.isfinite(loss) and "orthogonality" in stats
    loss.backward()
    assert model.slot_logits.grad is not None and model.slot_logits.grad.abs().sum() > 0
