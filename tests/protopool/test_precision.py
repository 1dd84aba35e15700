"""bf16 autocast reaches the backbone only: the head, distances and logits stay in fp32."""

from __future__ import annotations

import dataclasses
import math

import torch

from protopool.config import Config
from protopool.data.base import Sample
from protopool.execution import StepSettings, autocast, to_device
from protopool.models import build_model
from protopool.projection import project_prototypes
from protopool.similarity import LOG_EPSILON

BF16 = StepSettings(torch.device("cpu"), amp="bf16", channels_last=True)


def test_under_bf16_autocast_the_head_computes_in_fp32(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    images = to_device(torch.randn(4, 3, 32, 32), BF16)
    with torch.no_grad(), autocast(BF16):
        features = model.features(images)
        out = model(images, None)
        latent = model.latent(images)
    assert features.dtype == torch.bfloat16  # the backbone does run in bf16
    assert latent.dtype == torch.float32
    assert out.distances.dtype == torch.float32
    assert out.logits.dtype == torch.float32


def test_a_prototype_on_a_latent_patch_peaks_at_log_one_over_epsilon(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    images = to_device(torch.randn(2, 3, 32, 32), BF16)
    with torch.no_grad(), autocast(BF16):
        latent = model.latent(images)
        model.prototypes.data[0] = latent[1, :, 2, 3]
        sq_dist = model.distances(images)
        peak = model.similarity.activation_map(sq_dist)[1, 0, 2, 3]
    assert sq_dist[1, 0, 2, 3].item() < 1e-9
    assert peak.item() > math.log(1 / LOG_EPSILON) - 1e-3


def test_logits_are_not_rounded_to_bf16_steps(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    with torch.no_grad():
        model.last_layer.weight.mul_(13.7)
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        plain = model(images, None).logits
        with autocast(BF16):
            mixed = model(images, None).logits
    # Only the backbone's rounding separates the two; bf16 logits near 50 would sit on a grid
    # of 0.25.
    fractional = (mixed * 4 - (mixed * 4).round()).abs()
    assert fractional.max() > 1e-3
    assert torch.allclose(plain, mixed, rtol=0.1, atol=1.0)


def test_projected_prototypes_match_their_patch_under_the_same_precision(config: Config) -> None:
    """After projection with bf16 settings, evaluation with them finds distance 0 again."""
    model = build_model(config, num_classes=3).eval()
    with torch.no_grad():
        model.slot_logits.fill_(-10.0)
        for c in range(3):
            model.slot_logits[c, 2 * c, 0] = model.slot_logits[c, 2 * c + 1, 1] = 10.0
    generator = torch.Generator().manual_seed(0)
    batches = [
        (torch.randn(5, 3, 32, 32, generator=generator), torch.tensor([0, 1, 2, 0, 1]))
        for _ in range(3)
    ]
    samples = [Sample(str(i), f"{i}.png", int(batches[i // 5][1][i % 5])) for i in range(15)]
    result = project_prototypes(model, batches, samples, ["a", "b", "c"], BF16)
    assert len(result.prototypes) == 6
    with torch.no_grad():
        best = torch.full((6,), float("inf"))
        for images, _ in batches:
            with autocast(BF16):
                sq_dist = model.distances(to_device(images, BF16))
            best = torch.minimum(best, sq_dist.flatten(2).amin(dim=2).amin(dim=0))
    # fp32 rounding of |z|^2 - 2 z.p + |p|^2 leaves ~1e-7, far below the log's epsilon.
    assert best.max().item() < 1e-5
    peak = model.similarity.activation_map(best)
    assert peak.min().item() > math.log(1 / LOG_EPSILON) - 0.05


def test_fp32_settings_are_unchanged_by_the_precision_rules(config: Config) -> None:
    fp32 = dataclasses.replace(BF16, amp="none", channels_last=False)
    model = build_model(config, num_classes=3).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), autocast(fp32):
        assert model.latent(images).dtype == torch.float32
