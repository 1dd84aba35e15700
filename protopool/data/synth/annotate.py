"""CUB attribute annotations for SynthBirds: what each species has, and what each image shows."""

from __future__ import annotations

import numpy as np

from protopool.data.cub_vocab import GROUP_PARTS, attribute_names, group_id_ranges
from protopool.data.synth.geometry import BILL_LENGTH
from protopool.data.synth.species import Species

TAIL_VALUES = {
    "forked": "forked_tail",
    "rounded": "rounded_tail",
    "pointed": "pointed_tail",
    "squared": "squared_tail",
}
CERTAINTY_NOT_VISIBLE = 1
CERTAINTY_PROBABLY = 3
CERTAINTY_DEFINITELY = 4
# Share of visible groups an imagined annotator marks only "probably", as real CUB workers do.
PROBABLY_RATE = 0.1


def species_attributes(species: Species) -> dict[str, tuple[str, ...]]:
    """The CUB values (per group) that are true of every bird of ``species``."""
    return {
        "bill_shape": (species.beak,),
        "wing_color": (species.wing,),
        "upperparts_color": tuple(dict.fromkeys((species.back, species.crown))),
        "underparts_color": (species.belly,),
        "breast_pattern": ("solid",),
        "back_color": (species.back,),
        "tail_shape": (TAIL_VALUES[species.tail_shape],),
        "upper_tail_color": (species.tail,),
        "head_pattern": ("capped",),
        "breast_color": (species.belly,),
        "throat_color": (species.belly,),
        "eye_color": (species.eye,),
        "bill_length": (BILL_LENGTH[species.beak],),
        "forehead_color": (species.crown,),
        "under_tail_color": (species.tail,),
        "nape_color": (species.back,),
        "belly_color": (species.belly,),
        "wing_shape": ("rounded-wings",),
        "size": ("small_(5_-_9_in)",),
        "shape": ("perching-like",),
        "back_pattern": ("solid",),
        "tail_pattern": ("solid",),
        "belly_pattern": ("solid",),
        "primary_color": tuple(dict.fromkeys((species.back, species.belly))),
        "leg_color": (species.leg_colour,),
        "bill_color": (species.bill_colour,),
        "crown_color": (species.crown,),
        "wing_pattern": (species.wing_pattern,),
    }


def species_attribute_vector(species: Species) -> np.ndarray:
    """0/1 vector over the 312 CUB attributes, shape ``(312,)``."""
    present = np.zeros(len(attribute_names()), dtype=np.uint8)
    ranges = group_id_ranges()
    names = attribute_names()
    for group, values in species_attributes(species).items():
        for attribute_id in ranges[group]:
            if names[attribute_id - 1].partition("::")[2] in values:
                present[attribute_id - 1] = 1
    return present


def image_attributes(
    species_vector: np.ndarray, visible_parts: set[str], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-image ``(is_present, certainty)`` over the 312 attributes, both shape ``(312,)``.

    A group whose parts are all hidden is annotated as CUB workers do: nothing present,
    certainty "not visible".
    """
    present = species_vector.copy()
    certainty = np.full(present.shape, CERTAINTY_DEFINITELY, dtype=np.uint8)
    for group, ids in group_id_ranges().items():
        parts = GROUP_PARTS[group]
        block = slice(ids.start - 1, ids.stop - 1)
        if parts is not None and not visible_parts.intersection(parts):
            present[block] = 0
            certainty[block] = CERTAINTY_NOT_VISIBLE
        elif rng.random() < PROBABLY_RATE:
            certainty[block] = CERTAINTY_PROBABLY
    return present, certainty
