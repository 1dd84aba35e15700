"""A trained run put to use: load it, and map its prototypes' activations onto images.

:mod:`.runs` loads a run directory (the model in eval mode, its config and class names) and
reads what projection wrote; :mod:`.maps` turns images into activation maps in the original
image's pixels, many (prototype, image) pairs per forward pass, with their boxes. These are the
entry points tools outside the package (e.g. the study platform) call.

Example:
    >>> run = load_run("runs/synthbirds-cpu")
    >>> maps = prototype_activation(run, "bird.png")   # (P, H, W), original image size
    >>> pairs = maps_for_pairs(run.model, [(0, "bird.png", None)], run.config.data, settings)
"""

from protopool.inference.decision import ImageEvidence, image_evidence, tree_paths
from protopool.inference.maps import (
    Box,
    MapError,
    PairMap,
    PreparedImage,
    crop_region,
    image_map,
    latent_maps,
    maps_for_pairs,
    percentile_box,
    place_in_original,
    prepare_image,
    prototree_box,
    stream_maps,
    upsample,
)
from protopool.inference.runs import (
    Run,
    class_slots,
    load_run,
    prototype_activation,
    prototype_provenance,
)

__all__ = [
    "Box",
    "ImageEvidence",
    "MapError",
    "PairMap",
    "PreparedImage",
    "Run",
    "class_slots",
    "crop_region",
    "image_evidence",
    "image_map",
    "latent_maps",
    "load_run",
    "maps_for_pairs",
    "percentile_box",
    "place_in_original",
    "prepare_image",
    "prototree_box",
    "prototype_activation",
    "prototype_provenance",
    "stream_maps",
    "tree_paths",
    "upsample",
]
