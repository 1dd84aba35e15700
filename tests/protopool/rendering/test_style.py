"""Style files: the shipped recipe, round trips, and errors that name the field or the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from protopool.rendering import (
    RenderStyle,
    StyleError,
    load_style,
    style_from_dict,
)

REPO = Path(__file__).resolve().parents[3]


# --- style ------------------------------------------------------------------------------------


def test_the_shipped_study_style_is_the_reference_recipe() -> None:
    style = load_style(REPO / "configs/styles/study-default.yaml")
    assert style == RenderStyle()
    assert (style.colormap, style.image_weight, style.heat_weight) == ("jet", 0.5, 0.3)
    assert (style.box_rule, style.box_percentile) == ("percentile", 95.0)
    assert (style.box_colour, style.box_width) == ((255, 255, 0), 2)


@pytest.mark.parametrize("path", sorted((REPO / "configs/styles").glob("*.yaml")), ids=str)
def test_every_shipped_style_loads(path: Path) -> None:
    assert isinstance(load_style(path), RenderStyle)


def test_a_style_round_trips_through_its_dict() -> None:
    style = RenderStyle(size=(224, 200), format="webp", lossless=True, box_colour="red")
    assert style_from_dict(style.to_dict()) == style
    assert style.box_colour == (255, 0, 0)
    assert style.fingerprint() != RenderStyle().fingerprint()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"colour_map": "jet"}, r"unknown style field\(s\) \['colour_map'\]"),
        ({"colormap": "jett"}, "not a matplotlib colormap"),
        ({"heat_weight": 1.5}, r"heat_weight must be in \[0, 1\]"),
        ({"heat_weight": "lots"}, "heat_weight must be a number"),
        ({"image_weight": 0, "heat_weight": 0}, "cannot both be 0"),
        ({"normalisation": "zscore"}, "minmax, fixed"),
        ({"normalisation": "fixed"}, "needs style.fixed_range"),
        ({"normalisation": "fixed", "fixed_range": [2, 1]}, "lo < hi"),
        ({"fixed_range": [0, 1]}, "needs normalisation: fixed"),
        ({"box": "yes"}, "box must be true or false"),
        ({"box_rule": "argmax"}, "percentile, prototree"),
        ({"box_percentile": 0}, r"box_percentile must be in \(0, 100\]"),
        ({"box_colour": "not-a-colour"}, "not a colour"),
        ({"box_colour": [300, 0, 0]}, "0-255"),
        ({"box_width": 1.5}, "box_width must be an integer"),
        ({"box_on": "neither"}, "overlay, original, both"),
        ({"size": [224]}, r"original or \[width, height\]"),
        ({"size": "large"}, r"original or \[width, height\]"),
        ({"resample": "cubic"}, "nearest, bilinear, bicubic, lanczos"),
        ({"format": "gif"}, "png, jpeg, webp"),
        ({"quality": 0}, "quality must be in 1-100"),
        ({"lossless": True}, "webp only"),
        ({"pair": "stacked"}, "separate, side_by_side"),
        ({"gap_width": -1}, "cannot be negative"),
    ],
)
def test_bad_style_values_are_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(StyleError, match=message):
        style_from_dict(values)


def test_style_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(StyleError, match="style file not found"):
        load_style(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("colormap: [jet\n")
    with pytest.raises(StyleError, match="cannot parse"):
        load_style(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("heat_wieght: 0.3\n")
    with pytest.raises(StyleError, match="wrong.yaml: unknown style field"):
        load_style(wrong)
