"""Many stimuli at once: (prototype, image) pairs rendered with one forward pass per image batch.

Pairs are grouped by image (and crop box) so that every batch of distinct images is fed to the
network once (:func:`protopool.inference.maps.maps_for_pairs`), and only one batch's maps,
which are as large as the original images, are held at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from protopool.config import DataConfig
from protopool.data.base import DatasetError
from protopool.execution import StepSettings
from protopool.inference.maps import (
    DEFAULT_BATCH,
    Box,
    MapError,
    PairMap,
    maps_for_pairs,
    percentile_box,
    prototree_box,
)
from protopool.models import PrototypeModel
from protopool.rendering.overlay import StimulusFiles, render_stimulus
from protopool.rendering.style import RenderStyle

Pair = tuple[int, str | Path, Sequence[float] | None]
"""``(prototype, image file, crop box (x, y, width, height) or None)``."""


@dataclass(frozen=True)
class RenderedPair:
    """What was rendered for one pair.

    Attributes:
        position: Index of the pair in the request.
        prototype: Pool index.
        image: The image file as given.
        box: The box in the original image's pixels (None when the style draws none).
        score: The largest latent similarity of the prototype on the image.
        paths: Files written, overlay (or side-by-side) first; empty when a callback took them.
    """

    position: int
    prototype: int
    image: str
    box: Box | None
    score: float
    paths: tuple[Path, ...] = ()


Sink = str | Path | Callable[[RenderedPair, StimulusFiles], None]
"""A directory to write ``pair-<position><suffix>`` files into, or a callback."""


def pair_box(pair: PairMap, style: RenderStyle) -> Box | None:
    """The pair's box under the style's rule, in the original image's pixels.

    The percentile is taken over the crop the network saw, as ProtoPNet takes it over its
    (pre-cropped) images: over the whole frame, the flat fill outside the crop would lower the
    threshold and widen the box with the size of the margin.
    """
    if not style.box:
        return None
    if style.box_rule == "prototree":
        return prototree_box(pair.latent, pair.prepared)
    left, top, right, bottom = pair.prepared.crop
    seen = pair.activation[top:bottom, left:right]
    inner = percentile_box(seen, style.box_percentile)
    return (inner[0] + left, inner[1] + top, inner[2] + left, inner[3] + top)


def _check_pairs(model: PrototypeModel, pairs: Sequence[Pair]) -> None:
    """Fail before anything is written: a bad index or missing file late in a long request."""
    for prototype, image, _ in pairs:
        if not 0 <= prototype < model.num_prototypes:
            raise MapError(
                f"prototype {prototype} does not exist: the run has {model.num_prototypes} "
                f"(0 to {model.num_prototypes - 1})"
            )
        if not Path(image).is_file():
            raise DatasetError(f"image file not found: {image}")


def _image_batches(pairs: Sequence[Pair], batch_size: int) -> list[list[int]]:
    """Positions of the pairs, grouped so that each group holds ``batch_size`` distinct images."""
    by_image: dict[tuple[str, tuple[float, ...] | None], list[int]] = {}
    for position, (_, image, box) in enumerate(pairs):
        key = (str(image), tuple(box) if box is not None else None)
        by_image.setdefault(key, []).append(position)
    groups = list(by_image.values())
    return [
        [position for group in groups[start : start + batch_size] for position in group]
        for start in range(0, len(groups), batch_size)
    ]


def render_pairs(
    model: PrototypeModel,
    pairs: Sequence[Pair],
    data: DataConfig,
    settings: StepSettings,
    style: RenderStyle,
    sink: Sink,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> list[RenderedPair]:
    """Render the stimulus of every (prototype, image, crop box) pair.

    Args:
        model: The run's model.
        pairs: What to render; an image may appear with several prototypes.
        data: The run's data settings (input size, normalisation).
        settings: Where and how to run the network.
        style: The study's rendering style.
        sink: A directory (files ``pair-00000.png`` and, for ``pair: separate``,
            ``pair-00000-original.png``, named by position so that names reveal nothing), or a
            callback that gets each pair's record and files.
        batch_size: Distinct images per forward pass.
        progress: Show a progress bar.

    Returns:
        One record per pair, in the order of ``pairs``.

    Raises:
        MapError: A prototype index outside the pool.
        DatasetError: An image that does not exist or cannot be read.
    """
    _check_pairs(model, pairs)
    done: dict[int, RenderedPair] = {}
    bar = tqdm(total=len(pairs), desc="render", unit="pair", disable=not progress)
    for positions in _image_batches(pairs, batch_size):
        maps = maps_for_pairs(model, [pairs[p] for p in positions], data, settings, batch_size)
        for position, pair in zip(positions, maps, strict=True):
            box = pair_box(pair, style)
            files = render_stimulus(pair.prepared.original, pair.activation, style, box)
            record = RenderedPair(position, pair.prototype, pair.image, box, pair.score)
            if isinstance(sink, str | Path):
                written = files.write(Path(sink) / f"pair-{position:05d}{files.suffix}")
                record = dataclasses.replace(record, paths=tuple(written))
            else:
                sink(record, files)
            done[position] = record
            bar.update()
    bar.close()
    return [done[position] for position in range(len(pairs))]


__all__ = ["Pair", "RenderedPair", "Sink", "pair_box", "render_pairs"]
