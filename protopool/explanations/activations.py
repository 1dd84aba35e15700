"""Which training images each prototype matches best: one streamed pass over the training split.

Memory depends on the pool and the batch, never on the number of images: per batch the
backbone runs once (:func:`protopool.inference.maps.stream_maps`), and a running top-k per
prototype and a running best per (prototype, class) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from protopool.data.base import Sample, split_validation
from protopool.execution import StepSettings
from protopool.explanations.common import ExplanationError
from protopool.inference.maps import stream_maps
from protopool.inference.runs import Run
from protopool.training.data import make_loader
from protopool.training.runs import open_index


@dataclass(frozen=True)
class Hit:
    """A training image and the largest similarity of a prototype on it.

    Attributes:
        sample: Position in :attr:`TopActivations.samples`.
        score: The peak of the prototype's map on the image.
    """

    sample: int
    score: float


@dataclass(frozen=True)
class TopActivations:
    """The result of :func:`top_activations`.

    Attributes:
        samples: The images searched, in order.
        top: Per prototype, its best ``k`` images, best first.
        per_class: Per prototype, the best image of every class, by label.
    """

    samples: list[Sample]
    top: list[list[Hit]]
    per_class: list[dict[int, Hit]]


def training_split(run: Run, data_root: str | None = None) -> list[Sample]:
    """The run's training images, less the validation images it held out (its projection set).

    Args:
        run: A loaded run.
        data_root: The dataset directory (default: the run's ``data.root``).

    Raises:
        ExplanationError: No dataset is known, or it has other classes than the run.
        DatasetError: The dataset cannot be opened.
    """
    root = data_root or run.config.data.root
    if not root:
        raise ExplanationError("the run records no dataset: pass its directory with --data DIR")
    index = open_index(str(root))
    if list(index.class_names) != list(run.class_names):
        raise ExplanationError(
            f"the dataset at {root} has other classes than the run "
            f"({len(index.class_names)} against {len(run.class_names)}); pass the dataset the "
            "run was trained on with --data DIR"
        )
    train, _ = split_validation(
        index.train, run.config.data.validation_fraction, run.config.train.seed
    )
    return train


@torch.no_grad()
def top_activations(
    run: Run, samples: list[Sample], settings: StepSettings, k: int = 5
) -> TopActivations:
    """Stream ``samples`` once and keep each prototype's best images.

    Args:
        run: A loaded run.
        samples: The images to search (cropped to their boxes when the run crops).
        settings: Device and precision.
        k: Images kept per prototype.

    Raises:
        ExplanationError: ``k`` is below 1 or there are no images.
    """
    if k < 1:
        raise ExplanationError(f"--top-k must be at least 1, got {k}")
    if not samples:
        raise ExplanationError("the training split holds no images")
    pool = run.model.num_prototypes
    classes = len(run.class_names)
    scores = torch.full((pool, 0), float("-inf"))
    where = torch.zeros((pool, 0), dtype=torch.long)
    class_scores = torch.full((pool, classes), float("-inf"))
    class_where = torch.full((pool, classes), -1, dtype=torch.long)
    loader = make_loader(samples, run.config.data, train=False)
    for offset, maps, labels in stream_maps(run.model, loader, settings, "top activations"):
        peaks = maps.amax(dim=(2, 3)).T
        positions = torch.arange(offset, offset + peaks.shape[1]).expand(pool, -1)
        scores, order = torch.cat([scores, peaks], dim=1).topk(
            min(k, scores.shape[1] + peaks.shape[1]), dim=1
        )
        where = torch.cat([where, positions], dim=1).gather(1, order)
        for label in torch.unique(labels).tolist():
            mine = torch.nonzero(labels == label).flatten()
            best, at = peaks[:, mine].max(dim=1)
            better = best > class_scores[:, label]
            class_scores[better, label] = best[better]
            class_where[better, label] = mine[at[better]] + offset
    top = [
        [Hit(int(s), float(v)) for s, v in zip(where[p].tolist(), scores[p].tolist(), strict=True)]
        for p in range(pool)
    ]
    per_class = [
        {
            c: Hit(int(class_where[p, c]), float(class_scores[p, c]))
            for c in range(classes)
            if int(class_where[p, c]) >= 0
        }
        for p in range(pool)
    ]
    return TopActivations(list(samples), top, per_class)


__all__ = ["Hit", "TopActivations", "top_activations", "training_split"]
