"""Prototypes shared by classes: one prototype's classes (Figure 8) and how many classes share
each prototype, in one run and across runs (Figure 9).

Both read the hard test-time assignment of a ProtoPool's slots; a ProtoTree has no slots.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from protopool.data.base import Sample
from protopool.evaluation import slot_statistics
from protopool.execution import StepSettings
from protopool.explanations.common import (
    check_prototype,
    original_index,
    pair_box,
    require_pool,
    sample_crop,
    source_maps,
)
from protopool.inference.maps import Box, PairMap, maps_for_pairs
from protopool.inference.runs import Run
from protopool.models import ProtoPool


@dataclass(frozen=True)
class ClassUse:
    """A class that uses the prototype, with the slots it is in and their weights."""

    label: int
    name: str
    slots: list[int]
    weights: list[float]


@dataclass(frozen=True)
class Example:
    """A class's training image that matches the prototype best.

    Attributes:
        label: The class.
        image: The image file.
        score: The largest similarity of the prototype on the image.
        box: Where it matches, in the image's pixels.
    """

    label: int
    image: str
    score: float
    box: Box


@dataclass(frozen=True)
class PrototypeUse:
    """Figure 8's content: one prototype and every class that uses it.

    Attributes:
        prototype: Pool index.
        original_index: Index in the pool as first built.
        classes: The classes using it.
        source_image: The training image it was projected onto, if projected.
        source_box: Where it matches there.
        examples: For each class, its best-matching training image (when the data was given).
        maps: Maps of the source and example images, for drawing (by image file).
    """

    prototype: int
    original_index: int
    classes: list[ClassUse]
    source_image: str | None
    source_box: Box | None
    examples: list[Example]
    maps: dict[str, PairMap] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in asdict(self).items() if key != "maps"}
        return data


@torch.no_grad()
def prototype_use(
    run: Run,
    prototype: int,
    records: dict[int, dict[str, Any]],
    settings: StepSettings,
    examples: Mapping[int, Sample] | None = None,
) -> PrototypeUse:
    """Who uses one prototype.

    Args:
        run: A loaded ProtoPool run.
        prototype: Pool index.
        records: Projection provenance by pool index.
        settings: Device and precision.
        examples: A training image per class to show the prototype on (optional).

    Raises:
        ExplanationError: The index is outside the pool, or the run is a ProtoTree.
    """
    model = require_pool(run, "listing the classes of a prototype")
    check_prototype(run, prototype)
    hard = model.hard_slots()[:, prototype].cpu()
    weights = model.last_layer.weight.detach().float().cpu()
    slots = model.slots_per_class
    classes = []
    for c in range(model.num_classes):
        held = [k for k in range(slots) if bool(hard[c, k])]
        if held:
            used = [float(weights[c, c * slots + k]) for k in held]
            classes.append(ClassUse(c, run.class_names[c], held, used))
    source = source_maps(run, [prototype], records, settings).get(prototype)
    maps = {source.image: source} if source else {}
    shown = []
    if examples:
        wanted = [c.label for c in classes if c.label in examples]
        pairs = [(prototype, examples[c].path, sample_crop(run, examples[c])) for c in wanted]
        for label, pair in zip(
            wanted, maps_for_pairs(model, pairs, run.config.data, settings), strict=True
        ):
            maps[pair.image] = pair
            shown.append(Example(label, pair.image, pair.score, pair_box(run, pair)))
    return PrototypeUse(
        prototype,
        original_index(run, prototype),
        classes,
        source.image if source else None,
        pair_box(run, source) if source else None,
        shown,
        maps,
    )


@dataclass(frozen=True)
class RunSharing:
    """How many classes share each prototype in one run.

    Attributes:
        run: The run's label.
        classes_per_prototype: For every used prototype, how many classes use it.
        histogram: ``{n: prototypes used by exactly n classes}``.
        mean: Mean classes per used prototype.
        sd: Their sample standard deviation (None with fewer than two prototypes).
    """

    run: str
    classes_per_prototype: list[int]
    histogram: dict[int, int]
    mean: float
    sd: float | None


@dataclass(frozen=True)
class SharingStatistics:
    """Figure 9: per-run sharing histograms and their mean and sd across runs.

    Attributes:
        runs: One entry per run.
        classes: Every sharing count n seen in some run, ascending.
        histogram_mean: Mean over runs of the prototypes shared by n classes (0 where a run
            has none).
        histogram_sd: Their sample standard deviation across runs (None for one run).
        mean_of_means: Mean over runs of each run's mean classes per prototype.
        sd_of_means: Its sample standard deviation across runs (None for one run).
    """

    runs: list[RunSharing]
    classes: list[int]
    histogram_mean: list[float]
    histogram_sd: list[float | None]
    mean_of_means: float
    sd_of_means: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sd(values: Sequence[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


@torch.no_grad()
def run_sharing(label: str, model: ProtoPool) -> RunSharing:
    """The sharing histogram of one model (the one :func:`slot_statistics` reports)."""
    statistics = slot_statistics(model)
    counts = model.prototype_classes().sum(dim=0)
    used = [int(n) for n in counts[counts > 0].tolist()]
    histogram = {int(n): int(v) for n, v in statistics["sharing_histogram"].items()}
    return RunSharing(
        label, used, histogram, float(statistics["mean_classes_per_prototype"]), _sd(used)
    )


def sharing_statistics(models: Mapping[str, ProtoPool]) -> SharingStatistics:
    """Sharing histograms of several runs (by label) and their mean and sd across runs.

    Raises:
        ValueError: No models.
    """
    if not models:
        raise ValueError("sharing statistics need at least one run")
    runs = [run_sharing(label, model) for label, model in models.items()]
    classes = sorted({n for run in runs for n in run.histogram})
    table = np.array([[run.histogram.get(n, 0) for n in classes] for run in runs], dtype=float)
    means = [run.mean for run in runs]
    return SharingStatistics(
        runs=runs,
        classes=classes,
        histogram_mean=[float(v) for v in table.mean(axis=0)],
        histogram_sd=[_sd(table[:, i].tolist()) for i in range(len(classes))],
        mean_of_means=float(np.mean(means)),
        sd_of_means=_sd(means),
    )


def histogram_csv(statistics: SharingStatistics) -> str:
    """Long format, one row per run and sharing count: ``run, classes_sharing, prototypes``."""
    rows = [
        [run.run, n, run.histogram.get(n, 0)] for run in statistics.runs for n in statistics.classes
    ]
    return _csv(["run", "classes_sharing", "prototypes"], rows)


def summary_csv(statistics: SharingStatistics) -> str:
    """One row per sharing count: ``classes_sharing, mean_prototypes, sd_prototypes, runs``
    (sd empty for a single run)."""
    rows = [
        [n, f"{mean:.6g}", "" if sd is None else f"{sd:.6g}", len(statistics.runs)]
        for n, mean, sd in zip(
            statistics.classes, statistics.histogram_mean, statistics.histogram_sd, strict=True
        )
    ]
    return _csv(["classes_sharing", "mean_prototypes", "sd_prototypes", "runs"], rows)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


__all__ = [
    "ClassUse",
    "Example",
    "PrototypeUse",
    "RunSharing",
    "SharingStatistics",
    "prototype_use",
    "histogram_csv",
    "run_sharing",
    "sharing_statistics",
    "summary_csv",
]
