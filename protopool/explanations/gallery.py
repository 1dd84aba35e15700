"""A static HTML page of every prototype: the page a researcher opens first.

Each card shows the prototype's projected patch and its source image, its top-k activating
training images (found in one streamed pass over the training split), the classes using it and
its proposed name. The page is plain HTML and CSS (a responsive grid, light and dark), with
every image a local file beside it, so it opens from disk on a phone or a desktop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from protopool.execution import StepSettings
from protopool.explanations.activations import TopActivations, top_activations, training_split
from protopool.explanations.common import (
    ExplanationError,
    original_index,
    pair_box,
    provenance_by_prototype,
    sample_crop,
    users,
)
from protopool.explanations.figures import fit, pair_overlay, save_image, source_patch
from protopool.explanations.gallery_html import Card, Shown, page
from protopool.explanations.names import load_names
from protopool.inference.maps import maps_for_pairs
from protopool.inference.runs import Run
from protopool.models import ProtoTree
from protopool.rundir import write_text

IMAGES = "images"
PATCH_PX = 160
SOURCE_PX = 320
TOP_PX = 200
# Prototypes whose maps are computed together: bounds memory (a map is an original-size float
# array per pair) while still sharing forward passes between prototypes that like one image.
CHUNK = 16
DEFAULT_TOP_K = 5


@dataclass(frozen=True)
class GalleryResult:
    """What :func:`build_gallery` wrote.

    Attributes:
        page: The HTML file.
        images: How many image files it references.
        cards: One per prototype.
    """

    page: Path
    images: int
    cards: int


def build_gallery(
    run: Run,
    run_dir: str | Path,
    out: str | Path,
    settings: StepSettings,
    data_root: str | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> GalleryResult:
    """Write ``out/index.html`` and its images.

    Args:
        run: The loaded run.
        run_dir: Its directory (for ``projection.json`` and ``names.json``).
        out: The gallery directory.
        settings: Device and precision.
        data_root: The dataset directory (default: the run's ``data.root``).
        top_k: Training images shown per prototype.

    Raises:
        ExplanationError: No dataset, another dataset, or ``top_k`` below 1.
        DatasetError: The dataset cannot be opened.
    """
    if top_k < 1:
        raise ExplanationError(f"--top-k must be at least 1, got {top_k}")
    out = Path(out)
    samples = training_split(run, data_root)
    top = top_activations(run, samples, settings, top_k)
    records = provenance_by_prototype(run_dir)
    names = load_names(run_dir)
    classes = users(run)
    cards: list[Card] = []
    prototypes = list(range(run.model.num_prototypes))
    for start in range(0, len(prototypes), CHUNK):
        cards += _chunk_cards(run, prototypes[start : start + CHUNK], top, records, out, settings)
    tree = isinstance(run.model, ProtoTree)
    for card, prototype in zip(cards, prototypes, strict=True):
        proposed = names.by_prototype.get(prototype)
        card.name = proposed.name if proposed else names.note
        card.confidence = proposed.confidence if proposed else None
        card.named = proposed is not None and not proposed.placeholder
        card.classes = [run.class_names[c] for c in classes[prototype]]
    html = page(
        title=Path(run_dir).resolve().name,
        kind="ProtoTree" if tree else f"ProtoPool ({run.config.model.similarity} similarity)",
        class_names=run.class_names,
        cards=cards,
        class_prototypes=_class_prototypes(classes, len(run.class_names)),
        top_k=top_k,
        images=len(samples),
        tree=tree,
    )
    index = out / "index.html"
    write_text(index, html)
    files = sum(bool(c.patch) + bool(c.source) + len(c.top) for c in cards)
    return GalleryResult(index, files, len(cards))


def _class_prototypes(classes: list[list[int]], count: int) -> list[list[int]]:
    by_class: list[list[int]] = [[] for _ in range(count)]
    for prototype, labels in enumerate(classes):
        for label in labels:
            by_class[label].append(prototype)
    return by_class


def _chunk_cards(
    run: Run,
    prototypes: list[int],
    top: TopActivations,
    records: dict[int, dict[str, Any]],
    out: Path,
    settings: StepSettings,
) -> list[Card]:
    """Cards of some prototypes, their images written; one batched map pass for all."""
    pairs: list[tuple[int, str | Path, Sequence[float] | None]] = []
    for prototype in prototypes:
        record = records.get(prototype, {})
        if record.get("image_path"):
            pairs.append((prototype, str(record["image_path"]), record.get("crop_box")))
        for hit in top.top[prototype]:
            sample = top.samples[hit.sample]
            pairs.append((prototype, sample.path, sample_crop(run, sample)))
    maps = iter(maps_for_pairs(run.model, pairs, run.config.data, settings))
    folder = out / IMAGES
    cards = []
    for prototype in prototypes:
        card = Card(prototype=prototype, original_index=original_index(run, prototype))
        patch = source_patch(records, prototype, PATCH_PX)
        if patch is not None:
            card.patch = _write(folder / f"p{prototype}-patch.png", patch, PATCH_PX, out)
        record = records.get(prototype, {})
        if record.get("image_path"):
            pair = next(maps)
            card.source = _write(
                folder / f"p{prototype}-source.jpg",
                pair_overlay(pair, pair_box(run, pair)),
                SOURCE_PX,
                out,
            )
            card.source_caption = Path(pair.image).name
        for rank, hit in enumerate(top.top[prototype], 1):
            pair = next(maps)
            sample = top.samples[hit.sample]
            image = _write(
                folder / f"p{prototype}-top{rank}.jpg",
                pair_overlay(pair, pair_box(run, pair)),
                TOP_PX,
                out,
            )
            card.top.append(Shown(image, hit.score, run.class_names[sample.label], sample.image_id))
        cards.append(card)
    return cards


def _write(path: Path, pixels: np.ndarray, longest: int, out: Path) -> str:
    """Save an image for the page and return its address relative to the page."""
    save_image(fit(pixels, longest), path)
    return path.relative_to(out).as_posix()


__all__ = ["DEFAULT_TOP_K", "GalleryResult", "build_gallery"]
