"""The objective interpretability metrics, as formulas over hit vectors and maps.

- **Consistency** (Huang et al., "Evaluation and Improvement of Interpretability for
  Self-Explainable Part-Prototype Networks", ICCV 2023; hqhQAQ/EvalProtoPNet,
  ``util/eval_interpretability.py``): per part, the share of the evaluation images whose
  region (the fixed 72 x 72 at 224 square around the peak) holds the part's keypoint, among the
  images where the part is visible (a zero count divides by 1). A prototype is consistent when
  some part reaches 0.8; the score is 100 x the share of consistent prototypes. All 15 CUB parts
  count separately.
- **Stability** (same source): the same regions after adding N(0, 0.2^2) noise, clipped to
  +-0.25, to the normalised input; per prototype, the share of images whose 15-part hit vector
  is unchanged; the score is 100 x the mean.
- **Purity** (Nauta et al., "PIP-Net", CVPR 2023; M-Nauta/PIPNet, ``util/eval_cub_csv.py``): on
  the prototype's top-k training images, the share holding its purest part (left and right
  merged); a prototype is part-related when purity > 0.5; the score is the mean purity.
- **Pointing game**, energy form (Wang et al., "Score-CAM", CVPR-W 2020): the share of a map's
  energy inside the annotated part regions, the map taken over the network's view and shifted
  to a zero minimum, so a flat map scores the regions' share of the view's area (reported
  beside it as the chance level).

EvalProtoPNet scores each ProtoPNet prototype on the test images of its own class. ProtoPool
and ProtoTree prototypes belong to no single class: here each is scored on the test images of
the classes that use it, ``model.prototype_classes()`` (ProtoPool: the classes whose slots hold
it under the test-time assignment; ProtoTree: the classes of the leaves below its node, so the
root sees every test image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONSISTENCY_THRESHOLD = 0.8
NOISE_STD = 0.2
NOISE_CLIP = 0.25
PART_RELATED_PURITY = 0.5


@dataclass(frozen=True)
class MetricsConfig:
    """Settings of the metrics; the defaults are the cited sources'.

    Attributes:
        consistency_threshold: Least part hit rate of a consistent prototype (0.8).
        noise_std: Standard deviation of stability's input noise (0.2).
        noise_clip: Bound of that noise (0.25).
        noise_seed: Seed of the noise.
        part_related: Purity above which a prototype is part-related (0.5).
    """

    consistency_threshold: float = CONSISTENCY_THRESHOLD
    noise_std: float = NOISE_STD
    noise_clip: float = NOISE_CLIP
    noise_seed: int = 0
    part_related: float = PART_RELATED_PURITY


def part_hit_rates(hits: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """EvalProtoPNet's per-part hit rate ``(parts,)`` from ``(images, parts)`` bool arrays."""
    counts = visible.sum(axis=0)
    rates: np.ndarray = (hits & visible).sum(axis=0) / np.where(counts == 0, 1, counts)
    return rates


def is_consistent(
    hits: np.ndarray, visible: np.ndarray, threshold: float = CONSISTENCY_THRESHOLD
) -> bool:
    """Some part reaches the hit rate ``threshold``."""
    rates = part_hit_rates(hits, visible)
    return bool(len(rates) and rates.max() >= threshold)


def stability(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Share of images ``(images, parts)`` whose hit vector the noise leaves unchanged."""
    if not len(clean):
        return float("nan")
    return float((clean == noisy).all(axis=1).mean())


def energy_share(view: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """``(energy inside mask, area of mask)`` as shares of a map over the view.

    The map is shifted to a zero minimum; a flat map has no energy and scores the area share.
    """
    if view.shape != mask.shape:
        raise ValueError(f"map of shape {view.shape} and mask of shape {mask.shape} differ")
    area = float(mask.mean())
    energy = view - view.min()
    total = float(energy.sum())
    if total <= 0:
        return area, area
    return float(energy[mask].sum()) / total, area


def mean_or_nan(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
