"""Names for prototypes from CUB part and attribute annotations (``protopool name``).

The ProtoPool repository holds no naming code; this procedure is assembled from published pieces:
PIP-Net's purity (Nauta et al., CVPR 2023, M-Nauta/PIPNet ``util/eval_cub_csv.py``) for the
part, ProtoPNet's and EvalProtoPNet's activation regions, and CUB's per-image attribute labels
(with the concept-bottleneck soft labels of Koh et al., ICML 2020, as the certainty-aware
option) for the value.

1. Take the prototype's top-k activating training images (k = 10), streamed over the images
   projection searches (the training split less the validation images).
2. Map each activation to a region (:mod:`~protopool.interpretability.parts`: ProtoPNet's 95th
   percentile box by default, or EvalProtoPNet's fixed 72 x 72 at 224 square).
3. Purity of a part = share of the k images whose region holds one of its visible keypoints,
   left and right merged (PIP-Net). The part is the purest one; ties go to the part whose
   keypoint lies nearest the activation peak on average. It is accepted at purity >= 0.5.
4. Among the images whose region holds that part, average each value's label (``is_present``,
   or the certainty-weighted soft label) within the part's attribute groups. Per kind of group
   (colour, pattern, shape) the most present value is kept when its frequency is >= 0.5 and it
   is not near-universal: a value carried by >= 90 % of the training images that show its group
   (SynthBirds' rounded wings, say) says nothing about the prototype.
5. The name reads "<colour> <pattern> <shape> <part>", e.g. "black striped wing"; without a kept
   value it is the part alone. A prototype with no part at the threshold is "background /
   unnamed" (or, when asked, its strongest part-free attribute: size, shape, primary colour).

Confidence: purity times the smallest frequency among the claimed values (purity alone for a
part-only name; 0 for "background / unnamed"; for a part-free name, how far the value's
frequency exceeds its base rate).

``RUN/names.json`` (schema version 1), written atomically::

    {
      "schema": 1,
      "run": "<run directory>",  "dataset": "<dataset root>",
      "config": {<NamingConfig fields; "region" holds RegionRuleConfig's>},
      "prototypes": [            # one per prototype, in pool order
        {
          "prototype": 0,              # index in the run's (pruned) pool
          "original_index": 3,         # index in the pool as first built
          "classes": [0, 5],           # class indices using it (model.prototype_classes())
          "name": "black striped wing",
          "kind": "part+attribute",    # or "part", "part-free", "unnamed"
          "part": "wing",              # null for part-free and unnamed
          "attributes": [              # the claimed values, in name order
            {"group": "wing_color", "value": "black",
             "attribute": "has_wing_color::black", "frequency": 0.9, "base_rate": 0.12}
          ],
          "confidence": 0.81,
          "evidence": {
            "images": ["12", "40"],    # top-k image ids (dataset ids), best first
            "scores": [8.7, 8.1],      # the prototype's largest similarity on each
            "boxes": [[l, t, r, b]],   # activation regions, original pixels, r/b exclusive
            "purity": 0.9,             # of the chosen (or, if none, the purest) part
            "part_purity": {"wing": 0.9, "back": 0.3},   # every part, merged names
            "hit_images": ["12"],      # images whose region holds the chosen part
            "group_frequencies": {"wing_color": {"black": 0.9, "grey": 0.1}}
          }
        }
      ]
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protopool.interpretability.attributes import (
    KIND_ORDER,
    AttributeTable,
    group_kind,
    value_words,
)
from protopool.interpretability.parts import PartSpace, RegionRuleConfig
from protopool.interpretability.topk import DEFAULT_K, TopImage
from protopool.rundir import write_json

NAMES_FILE = "names.json"
SCHEMA_VERSION = 1
UNNAMED = "background / unnamed"


@dataclass(frozen=True)
class NamingConfig:
    """Thresholds of the naming procedure; the defaults are the reference's.

    Attributes:
        top_k: Training images per prototype (10).
        region: How an activation becomes a region (ProtoPNet's 95th percentile box).
        purity_threshold: Least purity for a part name (0.5; 0.8 is the strict variant).
        attribute_threshold: Least frequency for a value in the name (0.5).
        certainty_weighted: Weight labels by CUB's certainties (concept-bottleneck soft labels)
            instead of reading ``is_present``.
        max_base_rate: Values carried by at least this share of training images are never
            claimed (not from the reference: it keeps universal values out of names).
        merge_left_right: Merge left and right parts (PIP-Net) before scoring purity.
        own_classes: Rank only images of the classes that use the prototype.
        part_free_names: Name a prototype without a part by its strongest part-free value
            instead of "background / unnamed".
    """

    top_k: int = DEFAULT_K
    region: RegionRuleConfig = field(default_factory=RegionRuleConfig)
    purity_threshold: float = 0.5
    attribute_threshold: float = 0.5
    certainty_weighted: bool = False
    max_base_rate: float = 0.9
    merge_left_right: bool = True
    own_classes: bool = False
    part_free_names: bool = False

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"naming needs --top-k >= 1, got {self.top_k}")
        for name in ("purity_threshold", "attribute_threshold", "max_base_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class ClaimedValue:
    """One attribute value a name claims."""

    group: str
    value: str
    attribute: str
    frequency: float
    base_rate: float


@dataclass(frozen=True)
class PrototypeName:
    """A proposed name and its evidence; :meth:`to_dict` is one ``names.json`` entry."""

    prototype: int
    original_index: int
    classes: list[int]
    name: str
    kind: str
    part: str | None
    attributes: list[ClaimedValue]
    confidence: float
    images: list[str]
    scores: list[float]
    boxes: list[tuple[int, int, int, int]]
    purity: float
    part_purity: dict[str, float]
    hit_images: list[str]
    group_frequencies: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        evidence_keys = (
            "images", "scores", "boxes", "purity", "part_purity", "hit_images",
            "group_frequencies",
        )  # fmt: skip
        record = asdict(self)
        evidence = {key: record.pop(key) for key in evidence_keys}
        evidence["boxes"] = [list(box) for box in evidence["boxes"]]
        return {**record, "evidence": evidence}


@dataclass(frozen=True)
class PartScores:
    """Region hits of one prototype's top images over a :class:`PartSpace`.

    Attributes:
        hits: ``(k, M)`` region holds a visible keypoint of the part.
        distances: ``(k, M)`` pixels from the peak to the part's nearest visible keypoint.
    """

    hits: np.ndarray
    distances: np.ndarray

    @classmethod
    def of(cls, images: Sequence[TopImage], space: PartSpace) -> PartScores:
        hits = np.zeros((len(images), len(space.names)), dtype=bool)
        distances = np.full((len(images), len(space.names)), np.inf)
        for row, image in enumerate(images):
            hits[row] = space.hits(image.box, image.sample.parts)[0]
            distances[row] = space.distances(image.peak, image.sample.parts)
        return cls(hits, distances)

    def purity(self) -> np.ndarray:
        """PIP-Net's purity per part ``(M,)``: the share of the k images that hit it."""
        if not len(self.hits):
            return np.zeros(self.hits.shape[1])
        result: np.ndarray = self.hits.mean(axis=0)
        return result

    def best_part(self) -> int | None:
        """The purest part; ties go to the one nearest the peaks where it is hit."""
        purity = self.purity()
        if not len(purity) or purity.max() <= 0:
            return None
        tied = np.flatnonzero(purity == purity.max())
        near = [float(self.distances[self.hits[:, p], p].mean()) for p in tied]
        return int(tied[int(np.argmin(near))])


def most_present(
    table: AttributeTable, group: str, image_ids: Sequence[str]
) -> tuple[ClaimedValue | None, dict[str, float]]:
    """A group's most present value over ``image_ids`` (ties: CUB order), and every present
    value's frequency."""
    counts = table.frequencies(group, image_ids)
    present = {table.groups[c][1]: round(v, 4) for c, v in counts.items() if v}
    if not counts:
        return None, present
    column = max(counts, key=lambda c: counts[c])
    value = ClaimedValue(
        group,
        table.groups[column][1],
        table.names[column],
        counts[column],
        float(table.base_rate[column]),
    )
    return value, present


def _claimable(value: ClaimedValue | None, config: NamingConfig) -> bool:
    return (
        value is not None
        and value.frequency >= config.attribute_threshold
        and value.base_rate < config.max_base_rate
    )


def claim_values(
    table: AttributeTable, groups: Sequence[str], image_ids: Sequence[str], config: NamingConfig
) -> tuple[list[ClaimedValue], dict[str, dict[str, float]]]:
    """The values a name claims from ``groups`` over ``image_ids``, one per kind at most.

    Returns:
        ``(claimed in name order, frequencies of every present value per group)``.
    """
    best: dict[str, ClaimedValue] = {}
    frequencies: dict[str, dict[str, float]] = {}
    for group in groups:
        value, frequencies[group] = most_present(table, group, image_ids)
        kind = group_kind(group)
        if (
            value is not None
            and _claimable(value, config)
            and (kind not in best or value.frequency > best[kind].frequency)
        ):
            best[kind] = value
    claimed = [best[kind] for kind in KIND_ORDER if kind in best]
    return claimed, frequencies


def _part_free(
    table: AttributeTable, images: Sequence[TopImage], config: NamingConfig
) -> tuple[str, list[ClaimedValue], float] | None:
    ids = [image.sample.image_id for image in images]
    candidates = [most_present(table, group, ids)[0] for group in table.part_free_groups()]
    kept = [value for value in candidates if value is not None and _claimable(value, config)]
    if not kept:
        return None
    value = max(kept, key=lambda c: c.frequency - c.base_rate)
    words = f"{value_words(value.group, value.value)} {value.group.replace('_', ' ')}"
    return f"{words} (no part)", [value], max(0.0, value.frequency - value.base_rate)


Proposal = tuple[str, str, list[ClaimedValue], dict[str, dict[str, float]], float]
"""``(name, kind, claimed values, frequencies per group, confidence)``."""


def _propose(
    part: str | None,
    purity: float,
    hit_ids: Sequence[str],
    images: Sequence[TopImage],
    table: AttributeTable | None,
    config: NamingConfig,
) -> Proposal:
    """The name of an accepted part (or None) from its hit images' attribute labels."""
    if part is not None:
        claimed: list[ClaimedValue] = []
        frequencies: dict[str, dict[str, float]] = {}
        if table is not None:
            claimed, frequencies = claim_values(table, table.part_groups(part), hit_ids, config)
        words = [value_words(c.group, c.value) for c in claimed]
        kind = "part+attribute" if claimed else "part"
        confidence = purity * min([c.frequency for c in claimed], default=1.0)
        return " ".join([*dict.fromkeys(words), part]), kind, claimed, frequencies, confidence
    if config.part_free_names and table is not None:
        found = _part_free(table, images, config)
        if found is not None:
            name, claimed, confidence = found
            return name, "part-free", claimed, {}, confidence
    return UNNAMED, "unnamed", [], {}, 0.0


def name_prototype(
    prototype: int,
    images: Sequence[TopImage],
    space: PartSpace,
    table: AttributeTable | None,
    config: NamingConfig,
    original_index: int | None = None,
    classes: Sequence[int] = (),
) -> PrototypeName:
    """Name one prototype from its top images (see the module docstring for the procedure).

    Args:
        prototype: Its index in the pool.
        images: Its top images with located regions, best first.
        space: The parts scored.
        table: Attribute labels, or None for a dataset without attributes (part-only names).
        config: Thresholds.
        original_index: Index in the pool as first built (default: ``prototype``).
        classes: The classes that use it.
    """
    scores = PartScores.of(images, space)
    purity = scores.purity()
    best = scores.best_part()
    best_purity = float(purity[best]) if best is not None else 0.0
    accepted = best is not None and best_purity >= config.purity_threshold
    part = space.names[best] if accepted and best is not None else None
    hits = scores.hits[:, best] if accepted else np.zeros(len(images), dtype=bool)
    hit_ids = [image.sample.image_id for image, hit in zip(images, hits, strict=True) if hit]
    name, kind, claimed, frequencies, confidence = _propose(
        part, best_purity, hit_ids, images, table, config
    )
    return PrototypeName(
        prototype=prototype,
        original_index=prototype if original_index is None else original_index,
        classes=list(classes),
        name=name,
        kind=kind,
        part=part,
        attributes=claimed,
        confidence=round(confidence, 4),
        images=[image.sample.image_id for image in images],
        scores=[round(image.score, 4) for image in images],
        boxes=[image.box for image in images],
        purity=round(best_purity, 4),
        part_purity={n: round(float(v), 4) for n, v in zip(space.names, purity, strict=True)},
        hit_images=hit_ids,
        group_frequencies=frequencies,
    )


def names_document(
    names: Sequence[PrototypeName], run_dir: Path, dataset: Path, config: NamingConfig
) -> dict[str, Any]:
    """The content of ``names.json`` (schema in the module docstring)."""
    return {
        "schema": SCHEMA_VERSION,
        "run": str(run_dir),
        "dataset": str(dataset),
        "config": asdict(config),
        "prototypes": [name.to_dict() for name in names],
    }


def write_names(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write ``RUN/names.json`` atomically; returns its path."""
    path = Path(run_dir) / NAMES_FILE
    write_json(path, document)
    return path
