"""Similarity formulas against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from protopool import similarity
from protopool.similarity import UnknownSimilarityError, squared_distances


def log_sim(d: float) -> float:
    return math.log((d + 1) / (d + 1e-4))


def test_protopnet_is_max_log_similarity(sq_dist: torch.Tensor) -> None:
    score = similarity.get("protopnet").score(sq_dist)
    assert score.shape == (1, 2)
    assert score[0, 0].item() == pytest.approx(log_sim(0.0), rel=1e-5)
    assert score[0, 1].item() == pytest.approx(log_sim(9.0), rel=1e-5)


def test_focal_is_max_minus_mean_of_log_similarity(sq_dist: torch.Tensor) -> None:
    score = similarity.get("focal").score(sq_dist)
    expected = log_sim(0.0) - (log_sim(0.0) + log_sim(1.0) + log_sim(4.0)) / 3
    assert score[0, 0].item() == pytest.approx(expected, rel=1e-5)
    # A prototype equally close everywhere has no focus at all.
    assert score[0, 1].item() == pytest.approx(0.0, abs=1e-6)


def test_prototree_is_exp_of_minus_plain_distance(sq_dist: torch.Tensor) -> None:
    sim = similarity.get("prototree")
    assert sim.score(sq_dist)[0, 1].item() == pytest.approx(math.exp(-3.0), rel=1e-5)
    assert sim.activation_map(sq_dist)[0, 0, 0, 2].item() == pytest.approx(math.exp(-2.0), rel=1e-5)


@pytest.mark.parametrize("name", ["focal", "protopnet", "prototree"])
def test_activation_map_keeps_the_distance_shape(name: str) -> None:
    sq = torch.rand(2, 5, 4, 3)
    assert similarity.get(name).activation_map(sq).shape == (2, 5, 4, 3)
    assert similarity.get(name).score(sq).shape == (2, 5)


def test_focal_uses_the_log_activation_map(sq_dist: torch.Tensor) -> None:
    maps = similarity.get("focal").activation_map(sq_dist)
    assert maps[0, 0, 0, 1].item() == pytest.approx(log_sim(1.0), rel=1e-5)


def test_pooled_distance_variant_applies_activation_after_mixing() -> None:
    sim = similarity.get("focal")
    value = sim.score_from_pooled_distances(torch.tensor([1.0]), torch.tensor([3.0]))
    assert value.item() == pytest.approx(log_sim(1.0) - log_sim(3.0), rel=1e-5)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownSimilarityError, match="focal, protopnet, prototree"):
        similarity.get("cosine")


def test_squared_distances_match_brute_force() -> None:
    features = torch.rand(2, 4, 3, 5)
    prototypes = torch.rand(6, 4)
    expected = ((features[:, None] - prototypes[None, :, :, None, None]) ** 2).sum(dim=2)
    assert torch.allclose(squared_distances(features, prototypes), expected, atol=1e-5)
