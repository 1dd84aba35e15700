"""Model structure: shapes, initialisation, slot assignment, gradients, bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from protopool.config import Config
from protopool.models import InputShapeError, build_model, gumbel_scale


def test_forward_shapes_and_finite(config: Config) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(4, 3, 32, 32), scale=10.0)
    assert out.logits.shape == (4, 3)
    assert out.min_distances.shape == (4, 6)
    assert out.slot_probs.shape == (3, 6, 2)
    assert out.distances.shape == (4, 6, 4, 4)
    assert torch.isfinite(out.logits).all()


def test_last_layer_starts_positive_for_own_slots_only(config: Config) -> None:
    weight = build_model(config, num_classes=3).last_layer.weight
    expected = torch.zeros(3, 6)
    for c in range(3):
        expected[c, 2 * c : 2 * c + 2] = 1
    assert torch.equal(weight, expected)


def test_every_parameter_receives_a_gradient(config: Config) -> None:
    model = build_model(config, num_classes=3)
    out = model(torch.randn(4, 3, 32, 32), scale=5.0)
    (out.logits.sum() + out.min_distances.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


@pytest.mark.parametrize("tau", [1e-3, 1e-4])
def test_gumbel_softmax_tends_to_one_hot_as_temperature_falls(config: Config, tau: float) -> None:
    def mean_peak(temperature: float) -> float:
        model_config = dataclasses.replace(config.model, gumbel_tau=temperature)
        model = build_model(dataclasses.replace(config, model=model_config), num_classes=3)
        draws = torch.stack([model.slot_distributions(1.0) for _ in range(200)])
        return draws.amax(dim=2).mean().item()

    peaks = [mean_peak(t) for t in (5.0, 0.5, tau)]
    assert peaks[0] < peaks[1] < peaks[2]
    assert peaks[2] > 0.99


def test_hard_assignment_is_one_hot_per_slot(config: Config) -> None:
    model = build_model(config, num_classes=3)
    with torch.no_grad():
        model.slot_logits.zero_()
        model.slot_logits[:, 1, 0] = 1.0
        model.slot_logits[:, 4, 1] = 1.0
    hard = model.hard_slots()
    assert torch.equal(hard.sum(dim=1), torch.ones(3, 2))
    assert hard[:, 1, 0].all() and hard[:, 4, 1].all()


def test_threshold_assignment_leaves_an_undecided_slot_empty(config: Config) -> None:
    model = build_model(config, num_classes=3)
    with torch.no_grad():
        model.slot_logits.zero_()
    assert model.hard_slots().sum() == 0
    argmax = dataclasses.replace(config.model, test_assignment="argmax")
    model.config = argmax
    assert model.hard_slots().sum() == 3 * 2


def test_softmax_ablation_uses_plain_softmax(config: Config) -> None:
    model_config = dataclasses.replace(config.model, assignment="softmax")
    model = build_model(dataclasses.replace(config, model=model_config), num_classes=3)
    assert torch.allclose(model.slot_distributions(123.0), model.slot_logits.softmax(dim=1))


def reference_logits(model, images: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Logits computed the slow way: explicit differences, loops over slots, no einsum."""
    with torch.no_grad():
        latent = model.latent(images)  # (B, D, H, W)
        diff = latent[:, None] - model.prototypes[None, :, :, None, None]  # (B, P, D, H, W)
        sq_dist = diff.pow(2).sum(dim=2)  # (B, P, H, W)

        def act(d: torch.Tensor) -> torch.Tensor:
            return torch.log((d + 1) / (d + 1e-4))

        batch, classes, slots_per_class = images.shape[0], model.num_classes, slots.shape[2]
        scores = torch.zeros(batch, classes * slots_per_class)
        for b in range(batch):
            for c in range(classes):
                for k in range(slots_per_class):
                    q = slots[c, :, k]
                    if model.config.slot_mixing == "similarities":
                        per_proto = act(sq_dist[b]).flatten(1)
                        value = (q * (per_proto.amax(dim=1) - per_proto.mean(dim=1))).sum()
                    else:
                        flat = sq_dist[b].flatten(1)
                        value = act((q * flat.amin(dim=1)).sum()) - act(
                            (q * flat.mean(dim=1)).sum()
                        )
                    scores[b, c * slots_per_class + k] = value
        return scores @ model.last_layer.weight.T


@pytest.mark.parametrize("mixing", ["similarities", "distances"])
def test_forward_matches_an_independent_computation(config: Config, mixing: str) -> None:
    model_config = dataclasses.replace(config.model, slot_mixing=mixing)
    model = build_model(dataclasses.replace(config, model=model_config), num_classes=3).eval()
    with torch.no_grad():
        model.last_layer.weight.add_(0.3 * torch.randn_like(model.last_layer.weight))
        model.slot_logits.normal_(0, 1)
    images = torch.randn(2, 3, 32, 32)
    for scale in (None, 0.7):
        torch.manual_seed(3)
        out = model(images, scale)
        expected = reference_logits(model, images, out.slot_probs)
        assert torch.allclose(out.logits, expected, rtol=1e-4, atol=1e-4)
    # The two orders of operations really are different functions.
    other = dataclasses.replace(
        model_config, slot_mixing="distances" if mixing == "similarities" else "similarities"
    )
    model.config = other
    torch.manual_seed(3)
    assert not torch.allclose(model(images, 0.7).logits, out.logits, atol=1e-3)


def test_the_softmax_ablation_is_evaluated_with_every_slot_filled(config: Config) -> None:
    """A 0.5 threshold on a plain softmax over the pool would leave the slots empty."""
    model_config = dataclasses.replace(config.model, assignment="softmax")
    model = build_model(dataclasses.replace(config, model=model_config), num_classes=3)
    assert model.slot_distributions(1.0).amax().item() < 0.5
    hard = model.hard_slots()
    assert torch.equal(hard.sum(dim=1), torch.ones(3, 2))
    assert torch.equal(hard.argmax(dim=1), model.slot_logits.argmax(dim=1))


def test_gumbel_scale_schedule_follows_square_root() -> None:
    from protopool.config import ModelConfig

    cfg = ModelConfig()
    assert gumbel_scale(30, cfg) == pytest.approx(1000.0)
    assert gumbel_scale(1, cfg) == pytest.approx(1000 * math.sqrt(1 / 30))
    assert gumbel_scale(60, cfg) == pytest.approx(1000.0)


def test_wrong_image_size_is_a_clear_error(config: Config) -> None:
    model = build_model(config, num_classes=3)
    with pytest.raises(InputShapeError, match="32x32"):
        model(torch.randn(1, 3, 48, 48))
    with pytest.raises(InputShapeError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))


def test_keep_prototypes_shrinks_the_pool_and_remembers_ids(config: Config) -> None:
    model = build_model(config, num_classes=3)
    kept = model.prototypes[[1, 4]].detach().clone()
    model.keep_prototypes(torch.tensor([1, 4]))
    assert torch.equal(model.prototypes.detach(), kept)
    assert model.slot_logits.shape == (3, 2, 2)
    assert model.prototype_ids.tolist() == [1, 4]
    assert model(torch.randn(1, 3, 32, 32)).distances.shape[1] == 2
