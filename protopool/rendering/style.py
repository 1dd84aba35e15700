"""How stimuli look: one frozen record of every rendering parameter, loaded from YAML.

A style belongs to a *study*, never to a model. The reference implementations draw ProtoTree
with a lighter heat map (0.2) than ProtoPNet (0.3); a study that followed them would let the
picture tell raters which model made it, so a style has one recipe for every model and nothing
in :mod:`protopool.rendering` looks at anything but the map values.

The defaults are ProtoPNet's and ProtoPool's recipe (``0.5 * image + 0.3 * JET(minmax(map))``,
a yellow box two pixels wide around the 95th-percentile region); ``configs/styles/`` holds the
study files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from protopool.config import read_yaml_mapping

FORMATS = ("png", "jpeg", "webp")
SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
RESAMPLING = ("nearest", "bilinear", "bicubic", "lanczos")
Colour = tuple[int, int, int]


class StyleError(ValueError):
    """A style file or value is invalid; the message says which field and why."""


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise StyleError(f"style.{name} must be one of {', '.join(allowed)}; got {value!r}")


def _colour(name: str, value: object) -> Colour:
    """An RGB triple from ``[r, g, b]`` (0-255) or any matplotlib colour ("yellow", "#ff0")."""
    from matplotlib.colors import is_color_like, to_rgb

    if isinstance(value, str):
        if not is_color_like(value):
            raise StyleError(f"style.{name}: {value!r} is not a colour; use a name or #rrggbb")
        red, green, blue = to_rgb(value)
        return (round(red * 255), round(green * 255), round(blue * 255))
    if (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    ):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise StyleError(f"style.{name} must be [r, g, b] with integers 0-255 or a colour name")


def _size(value: object) -> tuple[int, int] | None:
    if value is None or value == "original":
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise StyleError(f"style.size must be original or [width, height] in pixels; got {value!r}")


def _colormap_exists(name: str) -> None:
    from matplotlib import colormaps

    if name not in colormaps:
        raise StyleError(
            f"style.colormap {name!r} is not a matplotlib colormap; "
            "try jet, turbo, viridis, inferno or magma"
        )


@dataclass(frozen=True)
class RenderStyle:
    """Every parameter of a stimulus picture.

    Attributes:
        colormap: A matplotlib colormap name; the map indexes it with ``uint8(255 * x)`` as
            ProtoPNet indexes OpenCV's JET (matplotlib's ``jet`` is close to OpenCV's but not
            equal to it, so colours differ from the reference's by a few levels).
        image_weight: Weight of the image (in [0, 1]) in the blend.
        heat_weight: Weight of the colour-mapped map; the blend is clipped to [0, 1].
        normalisation: ``minmax`` (each map to [0, 1] by its own range, the reference's rule)
            or ``fixed`` (``fixed_range`` mapped to [0, 1], values outside clipped), which keeps
            colours comparable across maps.
        fixed_range: ``(lo, hi)`` for ``fixed`` normalisation, in the map's own units.
        box: Draw the box the caller passes (``render_pairs`` computes one only when true).
        box_rule: ``percentile`` (ProtoPNet: rows and columns at or above the
            ``box_percentile``-th percentile of the map) or ``prototree`` (ProtoTree: the
            upsampled one-hot arg-max mask above 0.02).
        box_percentile: The percentile of the ``percentile`` rule.
        box_colour: RGB of the box outline.
        box_width: Outline width in output pixels, drawn inside the box so it never leaves
            the image (OpenCV centres it on the edge).
        box_on: ``overlay``, ``original`` or ``both``: which picture of a pair gets the box.
        size: None (``original`` in YAML) keeps the original image's size; ``(width, height)``
            resizes the image, and the normalised map with it, to that size.
        resample: Filter for that resize.
        format: ``png``, ``jpeg`` or ``webp``.
        quality: JPEG and lossy WebP quality (1-100).
        lossless: Lossless WebP (``format: webp`` only).
        pair: ``side_by_side`` (one file: original, gap, overlay) or ``separate`` (two files of
            the same size).
        gap_colour: RGB of the gap between the two pictures of a side-by-side file.
        gap_width: Width of that gap in pixels.
    """

    colormap: str = "jet"
    image_weight: float = 0.5
    heat_weight: float = 0.3
    normalisation: str = "minmax"
    fixed_range: tuple[float, float] | None = None
    box: bool = True
    box_rule: str = "percentile"
    box_percentile: float = 95.0
    box_colour: Colour = (255, 255, 0)
    box_width: int = 2
    box_on: str = "overlay"
    size: tuple[int, int] | None = None
    resample: str = "lanczos"
    format: str = "png"
    quality: int = 90
    lossless: bool = False
    pair: str = "side_by_side"
    gap_colour: Colour = (255, 255, 255)
    gap_width: int = 8

    def __post_init__(self) -> None:
        _colormap_exists(self.colormap)
        for name in ("image_weight", "heat_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise StyleError(f"style.{name} must be in [0, 1]; got {getattr(self, name)!r}")
        if self.image_weight + self.heat_weight == 0:
            raise StyleError("style.image_weight and style.heat_weight cannot both be 0")
        _choice("normalisation", self.normalisation, ("minmax", "fixed"))
        self._check_range()
        _choice("box_rule", self.box_rule, ("percentile", "prototree"))
        if not 0 < self.box_percentile <= 100:
            raise StyleError(f"style.box_percentile must be in (0, 100]; got {self.box_percentile}")
        object.__setattr__(self, "box_colour", _colour("box_colour", self.box_colour))
        object.__setattr__(self, "gap_colour", _colour("gap_colour", self.gap_colour))
        if self.box_width < 1:
            raise StyleError(f"style.box_width must be at least 1; got {self.box_width}")
        if self.gap_width < 0:
            raise StyleError(f"style.gap_width cannot be negative; got {self.gap_width}")
        _choice("box_on", self.box_on, ("overlay", "original", "both"))
        object.__setattr__(self, "size", _size(self.size))
        _choice("resample", self.resample, RESAMPLING)
        _choice("format", self.format, FORMATS)
        if not 1 <= self.quality <= 100:
            raise StyleError(f"style.quality must be in 1-100; got {self.quality}")
        if self.lossless and self.format != "webp":
            raise StyleError("style.lossless applies to format webp only; remove it or use webp")
        _choice("pair", self.pair, ("separate", "side_by_side"))

    def _check_range(self) -> None:
        if self.normalisation == "minmax":
            if self.fixed_range is not None:
                raise StyleError("style.fixed_range needs normalisation: fixed")
            return
        value = self.fixed_range
        if not (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and float(value[0]) < float(value[1])
        ):
            raise StyleError(
                f"normalisation fixed needs style.fixed_range: [lo, hi] with lo < hi; got {value!r}"
            )
        object.__setattr__(self, "fixed_range", (float(value[0]), float(value[1])))

    @property
    def suffix(self) -> str:
        """The file-name suffix of the format (``.png``, ``.jpg``, ``.webp``)."""
        return {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[self.format]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as a style file would hold them (``size: original`` included)."""
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in _fields(self).items()}
        data["size"] = data["size"] or "original"
        return data

    def fingerprint(self) -> str:
        """A stable hash of every field: stimuli with the same fingerprint share a look."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fields(style: RenderStyle) -> dict[str, Any]:
    return {f.name: getattr(style, f.name) for f in fields(style)}


_DEFAULTS = _fields(RenderStyle())
_FLOATS = ("image_weight", "heat_weight", "box_percentile")
_INTS = ("box_width", "quality", "gap_width")
_BOOLS = ("box", "lossless")


def _coerce(key: str, value: Any) -> Any:
    """Check a YAML value's kind: numbers for numbers (1 for 1.0 too), real booleans."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key in _BOOLS and not isinstance(value, bool):
        raise StyleError(f"style.{key} must be true or false; got {value!r}")
    if key in _FLOATS:
        if not number:
            raise StyleError(f"style.{key} must be a number; got {value!r}")
        return float(value)
    if key in _INTS:
        if not number or not float(value).is_integer():
            raise StyleError(f"style.{key} must be an integer; got {value!r}")
        return int(value)
    if isinstance(_DEFAULTS[key], str) and not isinstance(value, str):
        raise StyleError(f"style.{key} must be a string; got {value!r}")
    return value


def style_from_dict(data: Mapping[str, Any] | None) -> RenderStyle:
    """Build a :class:`RenderStyle` from a flat mapping, rejecting unknown keys.

    Raises:
        StyleError: An unknown key or an invalid value.
    """
    data = data or {}
    if not isinstance(data, Mapping):
        raise StyleError("a style must be a mapping of field: value")
    unknown = sorted(set(data) - set(_DEFAULTS))
    if unknown:
        raise StyleError(f"unknown style field(s) {unknown}; known: {sorted(_DEFAULTS)}")
    values = {key: _coerce(key, value) for key, value in data.items()}
    return RenderStyle(**values)


def read_style_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a style file (so a caller can see which fields it names).

    Raises:
        StyleError: A missing file, bad YAML or a document that is not a mapping.
    """
    return read_yaml_mapping(path, StyleError, "style file", "configs/styles/*.yaml")


def load_style(path: str | Path | None) -> RenderStyle:
    """Read a style file, or the defaults when ``path`` is None.

    Raises:
        StyleError: Missing file, bad YAML, unknown field or invalid value.
    """
    if path is None:
        return RenderStyle()
    data = read_style_file(path)
    try:
        return style_from_dict(data)
    except StyleError as exc:
        raise StyleError(f"{path}: {exc}") from None


def format_for_suffix(path: Path) -> str:
    """The format a file name asks for.

    Raises:
        StyleError: A suffix that is none of the supported formats'.
    """
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise StyleError(
            f"{path.name}: unknown picture suffix {path.suffix!r}; use {', '.join(SUFFIXES)}"
        ) from None


__all__ = [
    "FORMATS",
    "RenderStyle",
    "StyleError",
    "format_for_suffix",
    "load_style",
    "read_style_file",
    "style_from_dict",
]
