"""Overlay pictures: a map in the image's own pixels blended over the image, encoded bare.

The recipe is the reference's (ProtoPNet's ``0.5 * img + 0.3 * JET(minmax(map))``), with every
number taken from a :class:`~protopool.rendering.style.RenderStyle`; nothing here knows which
model or similarity made the map. Files carry no metadata (no EXIF, ICC profile, PNG text or
time chunks, no JFIF header): raters' browsers must get nothing but pixels, and the same input
gives the same bytes (with the same Pillow build, whose wheels bundle zlib, libjpeg and libwebp).

Blended values are rounded to the nearest level, where the reference's ``plt.imsave`` truncates.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from protopool.inference.maps import Box
from protopool.rendering.style import RenderStyle
from protopool.rundir import write_atomic

# On photographs and their overlays zlib's level 4 files are within 1-2 % of level 6's, at half
# to a third of the encoding time, which is most of a stimulus's cost.
PNG_COMPRESS_LEVEL = 4
# Heat colours are all chroma: 4:2:0 subsampling would smear them at every boundary.
JPEG_SUBSAMPLING_444 = 0
WEBP_METHOD = 4
_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
# JPEG segments that are metadata (APP0-APP15, COM); everything else is the picture.
_JPEG_DROPPED = frozenset(range(0xE0, 0xF0)) | {0xFE}
_JPEG_SOS = 0xDA


class RenderError(ValueError):
    """A map that cannot be drawn on its image; the message says why."""


def normalise(activation: np.ndarray, style: RenderStyle) -> np.ndarray:
    """The map ``(H, W)`` scaled to [0, 1] by the style's rule (float32).

    ``minmax`` maps a constant map to 0 (the colormap's low end: nothing is highlighted),
    where the reference would divide by zero.
    """
    values = np.asarray(activation, dtype=np.float32)
    if style.normalisation == "fixed" and style.fixed_range is not None:
        lo, hi = style.fixed_range
    else:
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:
            return np.zeros_like(values)
    scaled = (values - np.float32(lo)) / np.float32(hi - lo)
    result: np.ndarray = np.clip(scaled, 0.0, 1.0)
    return result


@lru_cache(maxsize=16)
def colour_table(colormap: str) -> np.ndarray:
    """The colormap sampled at 256 levels ``(256, 3)`` in [0, 1] (float32)."""
    from matplotlib import colormaps

    table: np.ndarray = colormaps[colormap](np.linspace(0.0, 1.0, 256))[:, :3].astype(np.float32)
    table.setflags(write=False)
    return table


def heat_colours(normalised: np.ndarray, colormap: str) -> np.ndarray:
    """Colours ``(H, W, 3)`` in [0, 1] of a normalised map, indexed as ``uint8(255 * x)``."""
    levels = (normalised * np.float32(255)).astype(np.uint8)
    colours: np.ndarray = colour_table(colormap)[levels]
    return colours


def blend(pixels: np.ndarray, normalised: np.ndarray, style: RenderStyle) -> np.ndarray:
    """``clip(w_img * image + w_heat * heat)`` as uint8 ``(H, W, 3)``, image in [0, 1]."""
    image = pixels.astype(np.float32) * np.float32(style.image_weight / 255)
    mixed = image + heat_colours(normalised, style.colormap) * np.float32(style.heat_weight)
    return np.rint(np.clip(mixed, 0.0, 1.0) * np.float32(255)).astype(np.uint8)


def output_size(size: tuple[int, int], style: RenderStyle) -> tuple[int, int]:
    """``(width, height)`` of the pictures for an original of ``size``."""
    return style.size or size


def scale_box(box: Box, size: tuple[int, int], target: tuple[int, int]) -> Box:
    """A box in an image of ``size`` moved to the same region of one resized to ``target``."""
    (width, height), (new_w, new_h) = size, target
    left, top, right, bottom = box
    sx, sy = new_w / width, new_h / height
    new_left = min(new_w - 1, max(0, math.floor(left * sx)))
    new_top = min(new_h - 1, max(0, math.floor(top * sy)))
    new_right = max(new_left + 1, min(new_w, math.ceil(right * sx)))
    new_bottom = max(new_top + 1, min(new_h, math.ceil(bottom * sy)))
    return (new_left, new_top, new_right, new_bottom)


def draw_box(pixels: np.ndarray, box: Box, style: RenderStyle) -> Image.Image:
    """A fresh RGB image of ``pixels`` with the box outlined inside its edges."""
    image = Image.fromarray(pixels, "RGB")
    left, top, right, bottom = box
    # PIL's corners are inclusive; a Box's right and bottom are not.
    ImageDraw.Draw(image).rectangle(
        (left, top, right - 1, bottom - 1), outline=style.box_colour, width=style.box_width
    )
    return image


def _strip_jpeg(data: bytes) -> bytes:
    """Drop every APPn and COM segment before the scan (the JFIF header libjpeg writes too)."""
    kept, position = [data[:2]], 2
    while position < len(data):
        marker = data[position + 1]
        if marker == _JPEG_SOS:
            kept.append(data[position:])
            break
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker not in _JPEG_DROPPED:
            kept.append(data[position : position + 2 + length])
        position += 2 + length
    return b"".join(kept)


def encode(image: Image.Image, style: RenderStyle) -> bytes:
    """The picture as a file in the style's format, without metadata.

    ``image`` must be a fresh RGB image (no ``info``): PIL writes an ICC profile or DPI it
    finds there.
    """
    buffer = io.BytesIO()
    if style.format == "png":
        image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
        return buffer.getvalue()
    if style.format == "jpeg":
        image.save(buffer, "JPEG", quality=style.quality, subsampling=JPEG_SUBSAMPLING_444)
        return _strip_jpeg(buffer.getvalue())
    image.save(buffer, "WEBP", quality=style.quality, lossless=style.lossless, method=WEBP_METHOD)
    return buffer.getvalue()


class Canvas(NamedTuple):
    """The image and its normalised map at output size, and the box moved there."""

    pixels: np.ndarray
    normalised: np.ndarray
    box: Box | None


def prepare_canvas(
    image: Image.Image, activation: np.ndarray, style: RenderStyle, box: Box | None
) -> Canvas:
    """Check the map fits the image, normalise it in original pixels, resize both if asked.

    Raises:
        RenderError: The map is not ``(height, width)`` of the image or holds NaN or inf.
    """
    size = image.size
    if activation.shape != (size[1], size[0]):
        raise RenderError(
            f"map of shape {activation.shape} does not fit a {size[0]}x{size[1]} image; "
            "use protopool.inference.maps for maps in the original image's pixels"
        )
    if not np.isfinite(activation).all():
        raise RenderError("the map holds NaN or infinite values")
    normalised = normalise(activation, style)
    target = output_size(size, style)
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if target != size:
        # The map is normalised before resizing, so its colours do not depend on the size.
        resample = _RESAMPLE[style.resample]
        rgb = rgb.resize(target, resample)
        resized = Image.fromarray(normalised, "F").resize(target, resample)
        normalised = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        box = scale_box(box, size, target) if box is not None else None
    return Canvas(np.asarray(rgb, dtype=np.uint8), normalised, box)


def _picture(pixels: np.ndarray, box: Box | None, style: RenderStyle, role: str) -> Image.Image:
    if style.box and box is not None and style.box_on in (role, "both"):
        return draw_box(pixels, box, style)
    return Image.fromarray(pixels, "RGB")


def render_overlay(
    image: Image.Image, activation: np.ndarray, style: RenderStyle, box: Box | None = None
) -> bytes:
    """The map blended over the image, encoded in the style's format.

    Args:
        image: The original image.
        activation: Its map ``(height, width)`` in the original's pixels.
        style: Every rendering choice.
        box: ``(left, top, right, bottom)`` in the original's pixels; drawn when the style
            draws boxes.

    Raises:
        RenderError: The map does not fit the image or is not finite.
    """
    canvas = prepare_canvas(image, activation, style, box)
    overlay = blend(canvas.pixels, canvas.normalised, style)
    return encode(_picture(overlay, canvas.box, style, "overlay"), style)


class StimulusFile(NamedTuple):
    """One encoded file of a stimulus: ``role`` is overlay, original or side_by_side."""

    role: str
    data: bytes


@dataclass(frozen=True)
class StimulusFiles:
    """The encoded files of one stimulus.

    Attributes:
        suffix: The format's file-name suffix.
        files: ``overlay`` and ``original`` (``pair: separate``) or one ``side_by_side``.
    """

    suffix: str
    files: tuple[StimulusFile, ...]

    def data(self, role: str) -> bytes:
        """The bytes of the file with this role."""
        return next(file.data for file in self.files if file.role == role)

    def targets(self, path: Path) -> list[tuple[Path, bytes]]:
        """Where each file goes when the overlay (or side-by-side) file is ``path``: the
        original beside it as ``<stem>-original<suffix>``."""
        original = path.with_name(f"{path.stem}-original{path.suffix}")
        return [(original if f.role == "original" else path, f.data) for f in self.files]

    def write(self, path: Path) -> list[Path]:
        """Write every file atomically (see :meth:`targets`); the paths written."""
        written = []
        for target, data in self.targets(path):
            write_atomic(target, partial(_write_bytes, data))
            written.append(target)
        return written


def _write_bytes(data: bytes, file: BinaryIO) -> None:
    file.write(data)


def render_stimulus(
    image: Image.Image, activation: np.ndarray, style: RenderStyle, box: Box | None = None
) -> StimulusFiles:
    """The original and its overlay at the same size, as two files or one side-by-side file.

    Arguments as :func:`render_overlay`.

    Raises:
        RenderError: The map does not fit the image or is not finite.
    """
    canvas = prepare_canvas(image, activation, style, box)
    overlay = _picture(blend(canvas.pixels, canvas.normalised, style), canvas.box, style, "overlay")
    original = _picture(canvas.pixels, canvas.box, style, "original")
    if style.pair == "separate":
        files = (
            StimulusFile("overlay", encode(overlay, style)),
            StimulusFile("original", encode(original, style)),
        )
        return StimulusFiles(style.suffix, files)
    width, height = overlay.size
    joined = Image.new("RGB", (2 * width + style.gap_width, height), style.gap_colour)
    joined.paste(original, (0, 0))
    joined.paste(overlay, (width + style.gap_width, 0))
    return StimulusFiles(style.suffix, (StimulusFile("side_by_side", encode(joined, style)),))


__all__ = [
    "RenderError",
    "StimulusFile",
    "StimulusFiles",
    "blend",
    "colour_table",
    "draw_box",
    "encode",
    "normalise",
    "render_overlay",
    "render_stimulus",
    "scale_box",
]
