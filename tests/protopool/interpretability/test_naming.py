"""Naming prototypes from part keypoints and attribute labels, on a hand-built CUB tree.

Regions are given by hand (no model), so each test fixes exactly which keypoints an activation
covers and checks the part, the values and the fallbacks the procedure must choose.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from protopool.data.base import Sample
from protopool.data.cub_vocab import PART_NAMES
from protopool.interpretability.attributes import value_words
from protopool.interpretability.naming import UNNAMED, NamingConfig, name_prototype
from protopool.interpretability.parts import PartSpace
from protopool.interpretability.topk import TopImage
from tests.protopool.interpretability.fixtures import (
    PER_CLASS,
    SIZE,
    TAIL,
    WING,
    Fixture,
)


def around(point: tuple[float, float], half: int = 4) -> tuple[int, int, int, int]:
    x, y = int(point[0]), int(point[1])
    return (x - half, y - half, x + half + 1, y + half + 1)


def top_images(samples: Sequence[Sample], points: Sequence[tuple[float, float]]) -> list[TopImage]:
    """One image per point: the activation peaks there, with a small box around it."""
    return [
        TopImage(sample, 9.0 - i, (0, 0, SIZE, SIZE), (int(p[0]), int(p[1])), around(p), (8, 8))
        for i, (sample, p) in enumerate(zip(samples, points, strict=True))
    ]


def test_a_wing_prototype_is_named_after_the_wing_and_its_classes_colour(
    fixture: Fixture,
) -> None:
    # Given a prototype whose top images are the black-winged class, firing on the wing
    # (the right wing in two images, the left in the others)
    black = fixture.samples[:PER_CLASS]
    images = top_images(black, [WING] * PER_CLASS)
    # When it is named
    name = name_prototype(0, images, fixture.space, fixture.table, NamingConfig())
    # Then left and right merge into one pure part, and the wing's own values make the name;
    # rounded wings, carried by every bird, are left out
    assert name.part == "wing" and name.part_purity["wing"] == 1.0
    assert name.name == "black striped wing" and name.kind == "part+attribute"
    assert [c.attribute for c in name.attributes] == [
        "has_wing_color::black",
        "has_wing_pattern::striped",
    ]
    assert name.attributes[0].base_rate == 0.5
    assert name.confidence == 1.0
    assert name.hit_images == [s.image_id for s in black]
    assert name.to_dict()["evidence"]["images"] == [s.image_id for s in black]


def test_a_colour_shared_by_half_the_images_is_below_the_threshold(fixture: Fixture) -> None:
    # Two images of each class: the colour is black in half, grey in the other half
    mixed = fixture.samples[:2] + fixture.samples[PER_CLASS : PER_CLASS + 2]
    config = NamingConfig(attribute_threshold=0.6)
    name = name_prototype(0, top_images(mixed, [WING] * 4), fixture.space, fixture.table, config)
    assert name.name == "wing" and name.kind == "part"
    assert name.group_frequencies["wing_color"] == {"black": 0.5, "grey": 0.5}


def test_a_prototype_on_background_gets_no_part_name(fixture: Fixture) -> None:
    # Regions in the empty top-right corner hold no keypoint
    images = top_images(fixture.samples[:PER_CLASS], [(56.0, 56.0)] * PER_CLASS)
    name = name_prototype(3, images, fixture.space, fixture.table, NamingConfig())
    assert name.name == UNNAMED and name.kind == "unnamed"
    assert name.part is None and name.confidence == 0.0 and name.attributes == []


def test_below_the_purity_threshold_there_is_no_part_name(fixture: Fixture) -> None:
    # The wing in one of four images, background in the rest: purity 0.25
    points = [WING] + [(56.0, 56.0)] * 3
    images = top_images(fixture.samples[:PER_CLASS], points)
    name = name_prototype(0, images, fixture.space, fixture.table, NamingConfig())
    assert name.name == UNNAMED and name.purity == 0.25


def test_part_free_names_are_only_given_when_asked_and_not_for_universal_values(
    fixture: Fixture,
) -> None:
    images = top_images(fixture.samples[:PER_CLASS], [(56.0, 56.0)] * PER_CLASS)
    config = NamingConfig(part_free_names=True)
    name = name_prototype(0, images, fixture.space, fixture.table, config)
    # The black-winged class is black overall; half the training birds are: a lift of 0.5
    assert name.name == "black primary color (no part)" and name.kind == "part-free"
    assert name.part is None and name.confidence == 0.5
    everyone = NamingConfig(part_free_names=True, max_base_rate=0.5)
    assert name_prototype(0, images, fixture.space, fixture.table, everyone).name == UNNAMED


def test_ties_go_to_the_part_nearest_the_peak(fixture: Fixture) -> None:
    # A large box holds both the beak and the back; the peak sits on the back
    samples = fixture.samples[:2]
    images = [
        TopImage(s, 9.0, (0, 0, SIZE, SIZE), (21, 13), (15, 0, SIZE, 20), (8, 8)) for s in samples
    ]
    name = name_prototype(0, images, fixture.space, fixture.table, NamingConfig())
    assert name.part_purity["beak"] == name.part_purity["back"] == 1.0
    # Every bird's back is brown, so the name claims no value
    assert name.part == "back" and name.name == "back"


def test_without_attributes_the_name_is_the_part(fixture: Fixture) -> None:
    images = top_images(fixture.samples[:PER_CLASS], [TAIL] * PER_CLASS)
    name = name_prototype(0, images, fixture.space, None, NamingConfig())
    assert name.name == "tail" and name.kind == "part" and name.confidence == 1.0


def test_left_and_right_stay_apart_when_not_merged(fixture: Fixture) -> None:
    space = PartSpace.of(PART_NAMES, merge=False)
    images = top_images(fixture.samples[:PER_CLASS], [WING] * PER_CLASS)
    name = name_prototype(0, images, space, fixture.table, NamingConfig(merge_left_right=False))
    assert name.part_purity["left wing"] == name.part_purity["right wing"] == 0.5
    assert name.part in {"left wing", "right wing"}


@pytest.mark.parametrize(
    ("group", "value", "words"),
    [
        ("tail_shape", "forked_tail", "forked"),
        ("wing_shape", "rounded-wings", "rounded"),
        ("bill_shape", "curved_(up_or_down)", "curved (up or down)"),
        ("wing_color", "black", "black"),
        ("tail_shape", "fan-shaped_tail", "fan shaped"),
    ],
)
def test_values_read_as_words(group: str, value: str, words: str) -> None:
    assert value_words(group, value) == words


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"top_k": 0}, "top-k"), ({"purity_threshold": 1.5}, "purity_threshold")],
)
def test_impossible_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NamingConfig(**kwargs)  # type: ignore[arg-type]
