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
    out = model(torch.randn(4, 3, 32, 32), 4.0)
    loss, stats = protopool_loss(out, plain_targets(labels), model, config.loss)

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
    theta = model.slot_logits
    ortho = torch.stack(
        [
            sum(
                F.cosine_similarity(theta[c, :, i], theta[c, :, j], dim=0)
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
    ["slot_logits", "raw_logits", "slot_distributions", "gumbel_samples"],
)
def test_orthogonality_variants_give_a_finite_term(config: Config, variant: str) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(2, 3, 32, 32), 5.0)
    weights = dataclasses.replace(config.loss, orthogonality_on=variant)
    loss, stats = protopool_loss(out, plain_targets(torch.tensor([0, 1])), model, weights)
    assert torch.isfinite(loss) and "orthogonality" in stats
    loss.backward()
    assert model.slot_logits.grad is not None and model.slot_logits.grad.abs().sum() > 0


def test_the_official_raw_logit_form_is_eq_2_on_the_logits_times_two_over_k() -> None:
    # An identity, checked in float64: the raw form subtracts 1 from a mean of cosines near 1,
    # so in float32 its rounding, of order eps_fp32 (1e-7), can reach 1e-5 of a result of a
    # few hundredths, by an amount that depends on the CPU's summation order.
    theta = torch.randn(5, 12, 4, dtype=torch.float64)
    assert raw_logit_orthogonality(theta).item() == pytest.approx(
        2 / 4 * slot_orthogonality(theta).item(), rel=1e-10
    )


def cub_head_at_the_first_epoch() -> tuple[object, object, float]:
    """The paper's CUB head (202 prototypes, 10 slots, 200 classes) on a tiny backbone."""
    from protopool.config import load_config
    from protopool.models import gumbel_scale

    config = load_config(None, ["model.backbone=tiny", "model.weights=none", "data.image_size=32"])
    return build_model(config, num_classes=200), config, gumbel_scale(1, config.model)


def test_the_default_orthogonality_reaches_the_slots_as_strongly_as_classification() -> None:
    """Eq. (2) on softmax(theta) pushed the slot logits ~1/P as hard as cross-entropy did."""
    torch.manual_seed(0)
    model, config, scale = cub_head_at_the_first_epoch()
    out = model(torch.randn(8, 3, 32, 32), scale)
    ce = cross_entropy(out.logits, plain_targets(torch.randint(0, 200, (8,))))
    ce_grad = torch.autograd.grad(ce, model.slot_logits, retain_graph=True)[0].norm()
    weights = dataclasses.replace(
        config.loss, cross_entropy=0.0, cluster=0.0, separation=0.0, l1=0.0
    )
    ortho, _ = protopool_loss(out, plain_targets(torch.zeros(8, dtype=torch.long)), model, weights)
    ortho_grad = torch.autograd.grad(ortho, model.slot_logits)[0].norm()
    assert ortho_grad > ce_grad


def test_two_slots_that_share_a_saturated_winner_are_pulled_apart(config: Config) -> None:
    """Gumbel samples (and distributions at the Gumbel scale) are one-hot here: no gradient."""
    model = build_model(config, num_classes=3)
    with torch.no_grad():
        model.slot_logits.normal_(0, 0.01)
        model.slot_logits[0, 4, :] = 1.0  # both slots of class 0 pick prototype 4, by far
    optimizer = torch.optim.SGD([model.slot_logits], lr=0.5)
    weights = dataclasses.replace(
        config.loss, cross_entropy=0.0, cluster=0.0, separation=0.0, l1=0.0
    )
    out = model(torch.randn(2, 3, 32, 32), 1000.0)
    for _ in range(100):
        loss, _ = protopool_loss(out, plain_targets(torch.tensor([0, 1])), model, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    winners = model.slot_logits[0].argmax(dim=0).tolist()
    assert len(set(winners)) == 2
