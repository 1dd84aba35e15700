"""Prototype similarities, each composed of a distance part, an activation part and a pooling.

Every similarity starts from squared L2 distances ``(B, P, H, W)`` between the latent patches of
a batch and the prototypes, and produces:

* ``activation_map(sq_dist)``: per-location similarity ``(B, P, H, W)``, the map that is drawn
  over an image;
* ``score(sq_dist)``: one value per image and prototype ``(B, P)``, pooled over locations.

Registered names:

``focal``
    ProtoPool, Eq. (1) with its typo fixed: max minus mean over locations of
    ``log((d + 1) / (d + eps))``.
``protopnet``
    ProtoPNet: max over locations of ``log((d + 1) / (d + eps))``.
``prototree``
    ProtoTree: max over locations of ``exp(-sqrt(d))`` (non-squared distance).

Example:
    >>> sim = get("focal")
    >>> sim.score(torch.zeros(1, 2, 3, 3)).shape
    torch.Size([1, 2])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

LOG_EPSILON = 1e-4
SQRT_EPSILON = 1e-14

Transform = Callable[[torch.Tensor], torch.Tensor]


class UnknownSimilarityError(ValueError):
    """A similarity name that is not in the registry."""


# --- distance parts: squared L2 in, the distance the activation expects out -------------------


def squared_l2(sq_dist: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance, unchanged (ProtoPNet, ProtoPool); any shape."""
    return sq_dist


def l2(sq_dist: torch.Tensor) -> torch.Tensor:
    """Plain L2 distance (ProtoTree) from squared distances; any shape."""
    # The epsilon keeps the gradient of sqrt finite at an exact match, as in ProtoTree.
    return torch.sqrt(sq_dist.clamp_min(0) + SQRT_EPSILON)


# --- activation parts: distance in, similarity out (both decreasing in distance) --------------


def log_activation(dist: torch.Tensor) -> torch.Tensor:
    """``log((d + 1) / (d + eps))`` elementwise, at most ``log(1 / eps)`` at ``d = 0``."""
    return torch.log((dist + 1) / (dist + LOG_EPSILON))


def exp_activation(dist: torch.Tensor) -> torch.Tensor:
    """``exp(-d)`` elementwise, in ``(0, 1]``."""
    return torch.exp(-dist)


DISTANCES: dict[str, Transform] = {"squared_l2": squared_l2, "l2": l2}
ACTIVATIONS: dict[str, Transform] = {"log": log_activation, "exp": exp_activation}


@dataclass(frozen=True)
class Similarity:
    """A distance part and an activation part, pooled over locations.

    Attributes:
        name: Registry name.
        distance: Maps squared distances to the distance the activation uses.
        activation: Maps distances to similarities.
        focal: Subtract the mean activation over locations from the maximum (ProtoPool's focal
            similarity) instead of taking the maximum alone.
    """

    name: str
    distance: Transform
    activation: Transform
    focal: bool = False

    def activation_map(self, sq_dist: torch.Tensor) -> torch.Tensor:
        """Per-location similarity.

        Args:
            sq_dist: Squared distances ``(B, P, H, W)``.

        Returns:
            Similarities ``(B, P, H, W)``.
        """
        return self.activation(self.distance(sq_dist))

    def score(self, sq_dist: torch.Tensor) -> torch.Tensor:
        """Similarity of each image to each prototype.

        Args:
            sq_dist: Squared distances ``(B, P, H, W)``.

        Returns:
            Scores ``(B, P)``.
        """
        # The activation decreases with distance, so its maximum sits at the minimum distance:
        # pooling distances first avoids evaluating the activation twice for the max term.
        min_dist = sq_dist.flatten(2).amin(dim=2)
        peak = self.activation(self.distance(min_dist))
        if not self.focal:
            return peak
        return peak - self.activation_map(sq_dist).flatten(2).mean(dim=2)

    def score_from_pooled_distances(
        self, min_dist: torch.Tensor, mean_dist: torch.Tensor
    ) -> torch.Tensor:
        """Score from distances already pooled (and possibly mixed over prototypes).

        This is the official ProtoPool code's order of operations: distances are pooled and
        mixed by the slot distributions *before* the activation, so the focal term becomes
        ``act(min d) - act(mean d)`` rather than the paper's max minus mean of activations.

        Args:
            min_dist: Squared distances pooled by min, any shape.
            mean_dist: Squared distances pooled by mean, same shape.

        Returns:
            Scores of that shape.
        """
        peak = self.activation(self.distance(min_dist))
        if not self.focal:
            return peak
        return peak - self.activation(self.distance(mean_dist))

    @property
    def max_score(self) -> float:
        """The score of an exact match at every location but one far away (upper bound)."""
        return float(self.activation(self.distance(torch.tensor(0.0))))


_REGISTRY: dict[str, Similarity] = {}


def register(name: str, distance: str, activation: str, focal: bool = False) -> Similarity:
    """Compose a similarity from registered parts and add it to the registry."""
    similarity = Similarity(name, DISTANCES[distance], ACTIVATIONS[activation], focal)
    _REGISTRY[name] = similarity
    return similarity


register("focal", distance="squared_l2", activation="log", focal=True)
register("protopnet", distance="squared_l2", activation="log")
register("prototree", distance="l2", activation="exp")


def names() -> list[str]:
    """Registered similarity names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Similarity:
    """Look up a similarity by name.

    Raises:
        UnknownSimilarityError: The name is not registered; the message lists those that are.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownSimilarityError(
            f"unknown similarity {name!r}; choose one of {', '.join(names())}"
        ) from None


def squared_distances(features: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance between every latent patch and every prototype.

    Uses ``|z|^2 - 2 z.p + |p|^2`` as one matrix product rather than materialising
    ``(B, P, D, H, W)`` differences; the result is clamped at 0 because rounding can make
    that expansion slightly negative.

    Args:
        features: Latent map ``(B, D, H, W)``.
        prototypes: Prototype vectors ``(P, D)``.

    Returns:
        Squared distances ``(B, P, H, W)``.
    """
    z_sq = features.pow(2).sum(dim=1, keepdim=True)
    p_sq = prototypes.pow(2).sum(dim=1).view(1, -1, 1, 1)
    cross = torch.einsum("bdhw,pd->bphw", features, prototypes)
    return (z_sq - 2 * cross + p_sq).clamp_min(0)


__all__ = [
    "LOG_EPSILON",
    "Similarity",
    "UnknownSimilarityError",
    "get",
    "names",
    "register",
    "squared_distances",
]
