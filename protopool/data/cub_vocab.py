"""The fixed CUB-200-2011 vocabularies: the 15 parts, the 312 attributes and the certainties.

SynthBirds writes these exact names so that code written for real CUB (part naming, attribute
lookups by id) runs unchanged on synthetic data.
"""

from __future__ import annotations

PART_NAMES: tuple[str, ...] = (
    "back",
    "beak",
    "belly",
    "breast",
    "crown",
    "forehead",
    "left eye",
    "left leg",
    "left wing",
    "nape",
    "right eye",
    "right leg",
    "right wing",
    "tail",
    "throat",
)

CERTAINTY_NAMES: tuple[str, ...] = ("not visible", "guessing", "probably", "definitely")

COLOURS: tuple[str, ...] = (
    "blue",
    "brown",
    "iridescent",
    "purple",
    "rufous",
    "grey",
    "yellow",
    "olive",
    "green",
    "pink",
    "orange",
    "black",
    "white",
    "red",
    "buff",
)
# Eye colours are the body colours without "iridescent" (CUB ids 136-149).
EYE_COLOURS: tuple[str, ...] = tuple(c for c in COLOURS if c != "iridescent")
PATTERNS: tuple[str, ...] = ("solid", "spotted", "striped", "multi-colored")

# (group, values) in the order of CUB's attributes.txt; ids run consecutively from 1 to 312.
ATTRIBUTE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "bill_shape",
        (
            "curved_(up_or_down)",
            "dagger",
            "hooked",
            "needle",
            "hooked_seabird",
            "spatulate",
            "all-purpose",
            "cone",
            "specialized",
        ),
    ),
    ("wing_color", COLOURS),
    ("upperparts_color", COLOURS),
    ("underparts_color", COLOURS),
    ("breast_pattern", PATTERNS),
    ("back_color", COLOURS),
    (
        "tail_shape",
        (
            "forked_tail",
            "rounded_tail",
            "notched_tail",
            "fan-shaped_tail",
            "pointed_tail",
            "squared_tail",
        ),
    ),
    ("upper_tail_color", COLOURS),
    (
        "head_pattern",
        (
            "spotted",
            "malar",
            "crested",
            "masked",
            "unique_pattern",
            "eyebrow",
            "eyering",
            "plain",
            "eyeline",
            "striped",
            "capped",
        ),
    ),
    ("breast_color", COLOURS),
    ("throat_color", COLOURS),
    ("eye_color", EYE_COLOURS),
    ("bill_length", ("about_the_same_as_head", "longer_than_head", "shorter_than_head")),
    ("forehead_color", COLOURS),
    ("under_tail_color", COLOURS),
    ("nape_color", COLOURS),
    ("belly_color", COLOURS),
    (
        "wing_shape",
        ("rounded-wings", "pointed-wings", "broad-wings", "tapered-wings", "long-wings"),
    ),
    (
        "size",
        (
            "large_(16_-_32_in)",
            "small_(5_-_9_in)",
            "very_large_(32_-_72_in)",
            "medium_(9_-_16_in)",
            "very_small_(3_-_5_in)",
        ),
    ),
    (
        "shape",
        (
            "upright-perching_water-like",
            "chicken-like-marsh",
            "long-legged-like",
            "duck-like",
            "owl-like",
            "gull-like",
            "hummingbird-like",
            "pigeon-like",
            "tree-clinging-like",
            "hawk-like",
            "sandpiper-like",
            "upland-ground-like",
            "swallow-like",
            "perching-like",
        ),
    ),
    ("back_pattern", PATTERNS),
    ("tail_pattern", PATTERNS),
    ("belly_pattern", PATTERNS),
    ("primary_color", COLOURS),
    ("leg_color", COLOURS),
    ("bill_color", COLOURS),
    ("crown_color", COLOURS),
    ("wing_pattern", PATTERNS),
)


def attribute_names() -> list[str]:
    """All 312 CUB names, ``has_<group>::<value>``; index ``i`` holds attribute id ``i + 1``."""
    return [f"has_{group}::{value}" for group, values in ATTRIBUTE_GROUPS for value in values]


def attribute_id(group: str, value: str) -> int:
    """The 1-based CUB id of ``has_<group>::<value>``.

    Raises:
        KeyError: The group or value is not in the CUB vocabulary.
    """
    next_id = 1
    for name, values in ATTRIBUTE_GROUPS:
        if name == group:
            if value not in values:
                raise KeyError(f"{value!r} is not a value of attribute group {group!r}")
            return next_id + values.index(value)
        next_id += len(values)
    raise KeyError(f"unknown attribute group {group!r}")


def group_id_ranges() -> dict[str, range]:
    """Each group's 1-based attribute ids, e.g. ``{"bill_shape": range(1, 10), ...}``."""
    ranges: dict[str, range] = {}
    next_id = 1
    for name, values in ATTRIBUTE_GROUPS:
        ranges[name] = range(next_id, next_id + len(values))
        next_id += len(values)
    return ranges


def split_attribute_name(name: str) -> tuple[str, str]:
    """Split ``has_wing_color::blue`` into ``("wing_color", "blue")``.

    Names without ``::`` come back as ``(name, "")`` so that foreign vocabularies still load.
    """
    group, sep, value = name.partition("::")
    if not sep:
        return name, ""
    return group.removeprefix("has_"), value


# Which parts show each attribute group (the mapping third-party CUB code uses); ``None`` marks
# whole-bird groups. Loaders and SynthBirds use it to decide when a group is "not visible".
GROUP_PARTS: dict[str, tuple[str, ...] | None] = {
    "bill_shape": ("beak",),
    "bill_length": ("beak",),
    "bill_color": ("beak",),
    "wing_color": ("left wing", "right wing"),
    "wing_pattern": ("left wing", "right wing"),
    "wing_shape": ("left wing", "right wing"),
    "upperparts_color": ("nape", "back"),
    "underparts_color": ("throat", "breast", "belly"),
    "back_color": ("back",),
    "back_pattern": ("back",),
    "breast_color": ("breast",),
    "breast_pattern": ("breast",),
    "belly_color": ("belly",),
    "belly_pattern": ("belly",),
    "throat_color": ("throat",),
    "tail_shape": ("tail",),
    "tail_pattern": ("tail",),
    "upper_tail_color": ("tail",),
    "under_tail_color": ("tail",),
    "head_pattern": ("forehead", "crown", "throat", "left eye", "right eye", "nape"),
    "eye_color": ("left eye", "right eye"),
    "forehead_color": ("forehead",),
    "nape_color": ("nape",),
    "crown_color": ("crown",),
    "leg_color": ("left leg", "right leg"),
    "size": None,
    "shape": None,
    "primary_color": None,
}
