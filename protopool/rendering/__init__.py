"""Pictures of prototypes for the study: activation overlays and stimulus pairs.

Example:
    >>> style = load_style("configs/styles/study-default.yaml")
    >>> files = render_stimulus(image, activation, style, percentile_box(activation))
    >>> files.write(Path("stimulus.png"))

Only the map values reach the picture: the functions take an image, a map in the image's own
pixels (:mod:`protopool.inference.maps`), a style and a box, never a model, so two models whose maps
agree give byte-identical files.
"""

from protopool.rendering.batch import Pair, RenderedPair, Sink, pair_box, render_pairs
from protopool.rendering.overlay import (
    RenderError,
    StimulusFile,
    StimulusFiles,
    render_overlay,
    render_stimulus,
)
from protopool.rendering.style import (
    RenderStyle,
    StyleError,
    format_for_suffix,
    load_style,
    read_style_file,
    style_from_dict,
)

__all__ = [
    "Pair",
    "RenderError",
    "RenderStyle",
    "RenderedPair",
    "Sink",
    "StimulusFile",
    "StimulusFiles",
    "StyleError",
    "format_for_suffix",
    "load_style",
    "pair_box",
    "read_style_file",
    "render_overlay",
    "render_pairs",
    "render_stimulus",
    "style_from_dict",
]
