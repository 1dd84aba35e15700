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


def expansion_rounding_bound(sq_norm: torch.Tensor, depth: int) -> torch.Tensor:
    """Worst-case fp32 error of ``|z|^2 - 2 z.p + |p|^2`` for ``p = z``, whose true value is 0.

    A sum of ``depth`` products is off by at most ``depth * u`` times the sum of their absolute
    values (u = eps / 2, the unit roundoff; Higham, Accuracy and Stability, section 3.1), the two
    additions by ``u`` each, and the three terms' absolute values add up to ``4 |z|^2``. The
    order of the sums, and so the actual error, depends on the CPU's kernels: one machine gives
    0, another 2 ulps of ``|z|^2``.
    """
    unit_roundoff = torch.finfo(torch.float32).eps / 2
    return (depth + 2) * unit_roundoff * 4 * sq_norm


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
    patch = latent[1, :, 2, 3]
    bound = expansion_rounding_bound(patch.double().pow(2).sum(), depth=patch.numel())
    assert sq_dist[1, 0, 2, 3].item() <= bound.item()
    # The latent lies in [0, 1], so |z|^2 is at most the depth (8) and the bound below 2e-5,
    # where the log similarity still exceeds log(1 / eps) - 0.18. A bf16 latent would leave
    # ~2e-4 between the patch and its copy: a peak near 8.2.
    assert peak.item() > math.log(1 / LOG_EPSILON) - 0.2


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
    # Each prototype is a copy of a patch, so only fp32 rounding separates them.
    prototypes = model.prototypes.detach().double()
    bound = expansion_rounding_bound(prototypes.pow(2).sum(dim=1), depth=prototypes.shape[1])
    assert (best.double() <= bound).all()
    peak = model.similarity.activation_map(best)
    # The same margin as above, far from bf16's peak near 8.2.
    assert peak.min().item() > math.log(1 / LOG_EPSILON) - 0.2


def test_fp32_settings_are_unchanged_by_the_precision_rules(config: Config) -> None:
    fp32 = dataclasses.replace(BF16, amp="none", channels_last=False)
    model = build_model(config, num_classes=3).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), autocast(fp32):
        assert model.latent(images).dtype == torch.float32
