"""Small drawing helpers shared by the explanation figures and the gallery.

Figures are bare :class:`matplotlib.figure.Figure` objects (no pyplot state, no display), saved
atomically in the format the file's suffix names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure, SubFigure
from PIL import Image, ImageDraw

from protopool.explanations.tree_render import patch_thumbnail
from protopool.inference.maps import Box, PairMap
from protopool.rundir import write_atomic, write_json

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
# CaBRNet's researcher overlay, brighter than ProtoPNet's 0.5 / 0.3 study recipe.
IMAGE_WEIGHT = 0.6
HEAT_WEIGHT = 0.4
BOX_COLOUR = (255, 230, 0)
DPI = 110
NOT_PROJECTED = "not projected:\nrun protopool project"


def figure_format(path: Path) -> str:
    """The matplotlib format for ``path``.

    Raises:
        ValueError: The suffix is not ``.png``, ``.svg`` or ``.pdf``.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot write a figure to {path}: end the file name in .png, .svg or .pdf"
        )
    return fmt


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Save a figure atomically, in the format its suffix names."""
    path = Path(path)
    fmt = figure_format(path)
    write_atomic(path, lambda file: figure.savefig(file, format=fmt, dpi=DPI, bbox_inches="tight"))
    return path


def save_with_json(figure: Figure, path: str | Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """Save a figure and the numbers it shows, as ``path`` and ``path`` with ``.json``."""
    path = Path(path)
    figure_format(path)
    numbers = path.with_suffix(".json")
    write_json(numbers, data)
    return save_figure(figure, path), numbers


def save_image(pixels: np.ndarray | Image.Image, path: Path, quality: int = 88) -> Path:
    """Write an RGB image atomically (JPEG or PNG by suffix)."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    options: dict[str, Any] = {"quality": quality} if fmt == "JPEG" else {"optimize": True}
    write_atomic(path, lambda file: image.convert("RGB").save(file, format=fmt, **options))
    return path


def normalise(activation: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (a flat map becomes 0)."""
    low, high = float(activation.min()), float(activation.max())
    if high - low < 1e-12:
        return np.zeros_like(activation, dtype=np.float32)
    result: np.ndarray = ((activation - low) / (high - low)).astype(np.float32)
    return result


def heat_overlay(image: Image.Image, activation: np.ndarray, box: Box | None = None) -> np.ndarray:
    """The image under its min-max-normalised JET heat map, optionally boxed ``(h, w, 3)``.

    Args:
        image: The original image.
        activation: A map in the image's pixels ``(height, width)``.
        box: A box to outline.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    heat = matplotlib.colormaps["jet"](normalise(activation))[..., :3]
    blended = np.clip(IMAGE_WEIGHT * pixels + HEAT_WEIGHT * heat, 0.0, 1.0)
    result = (blended * 255).astype(np.uint8)
    return draw_box(result, box) if box is not None else result


def pair_overlay(pair: PairMap, box: Box | None = None) -> np.ndarray:
    """A pair's heat map over the region of the image the network saw (its crop), boxed."""
    left, top, right, bottom = pair.prepared.crop
    return heat_overlay(pair.prepared.original, pair.activation, box)[top:bottom, left:right]


def source_patch(
    records: dict[int, dict[str, Any]], prototype: int | None, size: int
) -> np.ndarray | None:
    """The training patch a prototype was projected onto ``(size, size, 3)``, None if unknown."""
    if prototype is None or prototype not in records:
        return None
    return patch_thumbnail(records[prototype], size)


def draw_box(pixels: np.ndarray, box: Box, colour: tuple[int, int, int] = BOX_COLOUR) -> np.ndarray:
    """A copy of ``pixels`` ``(h, w, 3)`` with ``box`` outlined."""
    image = Image.fromarray(pixels)
    width = max(1, round(min(image.size) / 100))
    left, top, right, bottom = box
    ImageDraw.Draw(image).rectangle((left, top, right - 1, bottom - 1), outline=colour, width=width)
    return np.asarray(image)


def fit(pixels: np.ndarray | Image.Image, longest: int) -> Image.Image:
    """Resize so the longer side is ``longest`` pixels (never enlarging more than needed)."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def panels(parent: Figure | SubFigure, rows: int, columns: int, **options: Any) -> list[SubFigure]:
    """``parent.subfigures`` as a flat list, whatever the grid's shape."""
    grid = parent.subfigures(rows, columns, **options)
    found: list[SubFigure] = np.atleast_1d(np.asarray(grid, dtype=object)).ravel().tolist()
    return found


def show(axes: Any, pixels: np.ndarray | None, title: str = "", missing: str = "no patch") -> None:
    """Draw an image on ``axes`` without ticks, or a grey placeholder saying what is missing."""
    axes.set_axis_on()
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    if pixels is None:
        axes.set_facecolor("#eeeeee")
        axes.text(
            0.5,
            0.5,
            missing,
            ha="center",
            va="center",
            fontsize=7,
            color="#666666",
            transform=axes.transAxes,
            wrap=True,
        )
    else:
        axes.imshow(pixels)
    if title:
        axes.set_title(title, fontsize=8)


__all__ = [
    "FORMATS",
    "NOT_PROJECTED",
    "draw_box",
    "figure_format",
    "fit",
    "heat_overlay",
    "normalise",
    "pair_overlay",
    "panels",
    "save_figure",
    "save_image",
    "save_with_json",
    "show",
    "source_patch",
]
