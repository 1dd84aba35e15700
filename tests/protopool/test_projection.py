"""Projection picks the true nearest allowed patch, prunes unused prototypes, records provenance."""

from __future__ import annotations

import pytest
import torch

from protopool.config import Config
from protopool.data.base import Sample
from protopool.execution import StepSettings
from protopool.models import build_model
from protopool.projection import project_prototypes
from protopool.similarity import squared_distances
from tests.protopool.fixtures import assign

CPU = StepSettings(torch.device("cpu"))


def brute_force(model, images, labels, allowed):
    """Nearest allowed (image, h, w) per prototype by exhaustive search."""
    with torch.no_grad():
        latent = model.latent(images)
        dist = squared_distances(latent, model.prototypes)
    answers = {}
    for p in range(model.num_prototypes):
        best = None
        for b in range(images.shape[0]):
            if not allowed[labels[b], p]:
                continue
            value, where = dist[b, p].flatten().min(dim=0)
            if best is None or value < best[0]:
                w = dist.shape[3]
                best = (value.item(), b, where.item() // w, where.item() % w)
        answers[p] = best
    return answers, latent


def test_projection_moves_each_prototype_to_its_nearest_allowed_patch(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    # Prototype 2 is shared by classes 0 and 1; prototype 5 is unused.
    assign(model, [[0, 2], [1, 2], [3, 4]])
    images, labels = torch.randn(7, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    samples = [Sample(f"img{i}", f"/data/img{i}.png", int(y)) for i, y in enumerate(labels)]
    allowed = model.prototype_classes()
    expected, latent = brute_force(model, images, labels, allowed)
    batches = [(images[:3], labels[:3]), (images[3:], labels[3:])]

    result = project_prototypes(model, batches, samples, ["a", "b", "c"], CPU)

    assert result.pruned == [5]
    assert model.num_prototypes == 5
    for record in result.prototypes:
        distance, b, h, w = expected[record.original_index]
        assert record.image_id == f"img{b}"
        assert tuple(record.patch) == (h, w)
        assert abs(record.distance - distance) < 1e-4
        assert torch.allclose(model.prototypes[record.prototype], latent[b, :, h, w])
    shared = next(r for r in result.prototypes if r.original_index == 2)
    assert shared.classes == [0, 1] and shared.class_names == ["a", "b"]
    assert shared.feature_map_size == (4, 4)


def test_projected_model_still_classifies(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    assign(model, [[0, 1], [2, 3], [4, 5]])
    images, labels = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2])
    samples = [Sample(str(i), f"/x/{i}.png", int(y)) for i, y in enumerate(labels)]
    project_prototypes(model, [(images, labels)], samples, ["a", "b", "c"], CPU)
    out = model(images)
    # Each class's own image holds the exact patch of a prototype in one of its slots.
    assert torch.isfinite(out.logits).all()
    assert out.min_distances.min() < 1e-4


def test_provenance_classes_match_the_assignment_of_the_projected_model(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    assign(model, [[0, 1], [2, 3], [4, 4]])
    # Class 2's second slot is undecided between prototypes 0 and 5 (each just under 0.5), so
    # the threshold leaves it empty and prototype 5 is unused. Pruning 5 hands its mass to 0:
    # the projected model's class 2 then uses prototype 0, and projection must search there.
    with torch.no_grad():
        model.slot_logits[2, :, 1] = -10.0
        model.slot_logits[2, 0, 1] = model.slot_logits[2, 5, 1] = 10.0
    images, labels = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2])
    samples = [Sample(str(i), f"/x/{i}.png", int(y)) for i, y in enumerate(labels)]

    result = project_prototypes(model, [(images, labels)], samples, ["a", "b", "c"], CPU)

    assert result.pruned == [5]
    uses = model.prototype_classes()
    for record in result.prototypes:
        assert record.classes == torch.nonzero(uses[:, record.prototype]).flatten().tolist()
    assert next(r for r in result.prototypes if r.original_index == 0).classes == [0, 2]


def test_a_model_whose_slots_are_all_empty_cannot_be_projected(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    with torch.no_grad():
        model.slot_logits.zero_()  # every slot undecided: the threshold leaves all empty
    images, labels = torch.randn(3, 3, 32, 32), torch.tensor([0, 1, 2])
    samples = [Sample(str(i), f"/x/{i}.png", int(y)) for i, y in enumerate(labels)]
    with pytest.raises(ValueError, match="test_assignment=argmax"):
        project_prototypes(model, [(images, labels)], samples, ["a", "b", "c"], CPU)
    assert model.num_prototypes == 6
