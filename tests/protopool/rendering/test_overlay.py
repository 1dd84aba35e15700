"""Stimulus pictures: the overlay recipe, boxes, and bare, deterministic files."""

from __future__ import annotations

import dataclasses
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from PIL import Image

import protopool.inference.maps
from protopool.inference.maps import PairMap, PreparedImage, percentile_box
from protopool.rendering import (
    RenderError,
    RenderStyle,
    pair_box,
    render_overlay,
    render_stimulus,
)
from tests.protopool.fixtures import noise_image

NO_BOX = RenderStyle(box=False)


# --- helpers: what is inside a file -----------------------------------------------------------


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append(data[position + 4 : position + 8])
        position += 12 + length
    return chunks


def jpeg_markers(data: bytes) -> list[int]:
    """Start-of-image, the markers of the segments up to the scan, then end-of-image."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    markers, position = [0xD8], 2
    while True:
        assert data[position] == 0xFF
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:
            return [*markers, 0xD9]
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, position = [], 12
    while position < len(data):
        (length,) = struct.unpack("<I", data[position + 4 : position + 8])
        chunks.append(data[position : position + 4])
        position += 8 + length + (length & 1)
    return chunks


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def hot_square(height: int, width: int, rows: slice, columns: slice) -> np.ndarray:
    activation = np.zeros((height, width), dtype=np.float32)
    activation[rows, columns] = 1.0
    return activation


def one_hot_latent(size: int, row: int, column: int) -> torch.Tensor:
    latent = torch.zeros(size, size)
    latent[row, column] = 1.0
    return latent


def prepared(size: tuple[int, int], crop: tuple[int, int, int, int]) -> PreparedImage:
    return PreparedImage(noise_image(*size), crop, torch.zeros(3, 8, 8))


def pair_map(latent: torch.Tensor, image: PreparedImage) -> PairMap:
    activation = protopool.inference.maps.image_map(latent, image)
    return PairMap(0, "hand-made", image, latent, activation, float(latent.max()))


# --- the overlay ------------------------------------------------------------------------------


def test_the_overlay_is_the_reference_blend() -> None:
    """O = 0.5 I + 0.3 JET(uint8(255 minmax(A))), I in [0, 1] (ProtoPNet's local analysis)."""
    image = Image.new("RGB", (6, 4), (100, 150, 200))
    activation = np.tile(np.linspace(-3.0, 5.0, 6, dtype=np.float32), (4, 1))
    drawn = pixels(render_overlay(image, activation, NO_BOX))
    for column, level in ((0, 0), (5, 255)):
        heat = np.asarray(colormaps["jet"](level / 255)[:3])
        expected = np.rint(np.clip(0.5 * np.array([100, 150, 200]) / 255 + 0.3 * heat, 0, 1) * 255)
        np.testing.assert_array_equal(drawn[2, column], expected)


def test_a_hot_square_gets_its_own_box_drawn_inside_its_edges() -> None:
    # 100 hot pixels of 1600: above the 95th percentile, and nothing else is.
    activation = hot_square(40, 40, slice(12, 22), slice(8, 18))
    box = percentile_box(activation)
    assert box == (8, 12, 18, 22)
    drawn = pixels(render_overlay(noise_image(40, 40), activation, RenderStyle(), box))
    yellow = (drawn == (255, 255, 0)).all(axis=-1)
    assert yellow[12, 8:18].all() and yellow[21, 8:18].all()  # top and bottom edges
    assert yellow[12:22, 8].all() and yellow[12:22, 17].all()  # left and right edges
    assert yellow[13, 9] and not yellow[14, 10]  # two pixels wide, inward
    assert not yellow[11, :].any() and not yellow[:, 18].any()


def test_the_prototree_rule_boxes_the_arg_max_cell() -> None:
    # A 4x4 latent map over a 40x40 image: cell (1, 2) covers rows 10-19, columns 20-29.
    image = prepared((40, 40), (0, 0, 40, 40))
    box = pair_box(pair_map(one_hot_latent(4, 1, 2), image), RenderStyle(box_rule="prototree"))
    assert box is not None
    left, top, right, bottom = box
    assert left <= 20 and right >= 30 and top <= 10 and bottom >= 20
    assert (left + right) / 2 == pytest.approx(25, abs=1) and (top + bottom) / 2 == pytest.approx(
        15, abs=1
    )
    assert right - left < 25 and bottom - top < 25


@pytest.mark.parametrize("rule", ["percentile", "prototree"])
def test_a_crop_map_lands_at_the_crop_in_the_original_frame(rule: str) -> None:
    """A 100x80 image cropped to (40, 20, 80, 60); the hot latent cell (1, 2) of a 4x4 map is
    rows 10-19, columns 20-29 of the crop, i.e. rows 30-39, columns 60-69 of the original."""
    image = prepared((100, 80), (40, 20, 80, 60))
    pair = pair_map(one_hot_latent(4, 1, 2), image)
    assert pair.activation.shape == (80, 100)
    peak = np.unravel_index(pair.activation.argmax(), pair.activation.shape)
    assert 30 <= peak[0] < 40 and 60 <= peak[1] < 70
    box = pair_box(pair, RenderStyle(box_rule=rule))
    assert box is not None
    left, top, right, bottom = box
    assert left >= 40 and right <= 80 and top >= 20 and bottom <= 60
    assert (left + right) / 2 == pytest.approx(65, abs=1.5)
    assert (top + bottom) / 2 == pytest.approx(35, abs=1.5)
    # Outside the crop the map is its minimum: the colormap's low end over the image.
    drawn = pixels(render_overlay(image.original, pair.activation, NO_BOX))
    outside = np.asarray(image.original)[5, 5].astype(float) / 255
    expected = np.rint((0.5 * outside + 0.3 * np.asarray(colormaps["jet"](0.0)[:3])) * 255)
    np.testing.assert_array_equal(drawn[5, 5], expected)


def test_side_by_side_is_original_gap_overlay() -> None:
    image, activation = noise_image(20, 12), hot_square(12, 20, slice(2, 6), slice(3, 9))
    style = RenderStyle(gap_width=5, gap_colour=(10, 20, 30))
    box = percentile_box(activation)
    joined = pixels(render_stimulus(image, activation, style, box).data("side_by_side"))
    assert joined.shape == (12, 45, 3)
    np.testing.assert_array_equal(joined[:, :20], np.asarray(image))
    assert (joined[:, 20:25] == (10, 20, 30)).all()
    separate = render_stimulus(image, activation, dataclasses.replace(style, pair="separate"), box)
    np.testing.assert_array_equal(joined[:, 25:], pixels(separate.data("overlay")))
    np.testing.assert_array_equal(pixels(separate.data("original")), np.asarray(image))


def test_box_on_both_marks_the_original_too() -> None:
    image, activation = noise_image(20, 20), hot_square(20, 20, slice(2, 8), slice(3, 9))
    style = RenderStyle(pair="separate", box_on="both")
    files = render_stimulus(image, activation, style, percentile_box(activation))
    assert (pixels(files.data("original"))[2, 3:9] == (255, 255, 0)).all()


def test_a_fixed_size_resizes_image_map_and_box_together() -> None:
    image = noise_image(40, 20)
    activation = hot_square(20, 40, slice(4, 10), slice(20, 30))
    style = RenderStyle(size=(80, 60), pair="separate", resample="bicubic")
    files = render_stimulus(image, activation, style, percentile_box(activation))
    original, overlay = pixels(files.data("original")), pixels(files.data("overlay"))
    assert original.shape == overlay.shape == (60, 80, 3)
    expected = np.asarray(image.resize((80, 60), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(original, expected)
    yellow = (overlay == (255, 255, 0)).all(axis=-1)
    # The box (20, 4, 30, 10) scales by 2 and 3 to (40, 12, 60, 30).
    assert yellow[12, 40:60].all() and yellow[29, 40:60].all() and not yellow[11].any()


def test_minmax_ignores_the_map_scale_and_fixed_keeps_it() -> None:
    image = noise_image(16, 16)
    activation = np.linspace(0.0, 2.0, 256, dtype=np.float32).reshape(16, 16)
    # Scaled by a power of two, so that float rounding cannot move a value across a level.
    minmax = [render_overlay(image, a, NO_BOX) for a in (activation, 4 * activation)]
    assert minmax[0] == minmax[1]
    fixed = dataclasses.replace(NO_BOX, normalisation="fixed", fixed_range=(0.0, 4.0))
    assert render_overlay(image, activation, fixed) != render_overlay(image, 2 * activation, fixed)
    # A value beyond the range is drawn as the range's end, not wrapped.
    beyond = render_overlay(image, activation + 100, fixed)
    assert beyond == render_overlay(image, np.full_like(activation, 4.0), fixed)


def test_a_constant_map_highlights_nothing() -> None:
    image = noise_image(8, 8)
    flat = render_overlay(image, np.full((8, 8), 3.0, dtype=np.float32), NO_BOX)
    assert flat == render_overlay(image, np.zeros((8, 8), dtype=np.float32), NO_BOX)


@pytest.mark.parametrize(
    ("activation", "message"),
    [(np.zeros((5, 8), np.float32), "does not fit a 8x6 image"), (np.full((6, 8), np.nan), "NaN")],
    ids=["shape", "nan"],
)
def test_a_map_that_cannot_be_drawn_is_a_render_error(activation: np.ndarray, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render_overlay(noise_image(8, 6), activation, NO_BOX)


# --- bare, deterministic files ----------------------------------------------------------------


def image_with_metadata(tmp_path: Path) -> Image.Image:
    """A JPEG carrying EXIF, an ICC profile and a comment, loaded back."""
    path = tmp_path / "tagged.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    noise_image(24, 16).save(path, icc_profile=b"fake profile bytes", exif=exif, comment=b"hi")
    image = Image.open(path)
    image.load()
    assert {"icc_profile", "exif", "comment"} <= set(image.info)
    return image


STYLES = {
    "png": RenderStyle(),
    "jpeg": RenderStyle(format="jpeg", quality=80),
    "webp": RenderStyle(format="webp", quality=80),
    "webp-lossless": RenderStyle(format="webp", lossless=True),
}


ALLOWED = {
    "png": {b"IHDR", b"IDAT", b"IEND"},
    # SOI, DQT, SOF0, DHT, SOS, EOI: no APPn (JFIF, EXIF, ICC, XMP) and no COM.
    "jpeg": {0xD8, 0xDB, 0xC0, 0xC4, 0xDA, 0xD9},
    "webp": {b"VP8 ", b"VP8L"},
    "webp-lossless": {b"VP8L"},
}


@pytest.mark.parametrize("name", list(STYLES))
@pytest.mark.parametrize("pair", ["separate", "side_by_side"])
def test_files_carry_no_metadata(name: str, pair: str, tmp_path: Path) -> None:
    image = image_with_metadata(tmp_path)
    activation = hot_square(16, 24, slice(2, 8), slice(3, 9))
    style = dataclasses.replace(STYLES[name], pair=pair)
    files = render_stimulus(image, activation, style, percentile_box(activation))
    for file in files.files:
        parse = {"png": png_chunks, "jpeg": jpeg_markers}.get(style.format, webp_chunks)
        found = parse(file.data)
        assert set(found) <= ALLOWED[name], found
        for secret in (b"Camera maker", b"fake profile", b"Exif", b"ICC_PROFILE", b"JFIF"):
            assert secret not in file.data
        with Image.open(io.BytesIO(file.data)) as decoded:
            assert decoded.format == {"png": "PNG", "jpeg": "JPEG"}.get(style.format, "WEBP")
            assert not {"exif", "icc_profile", "dpi", "comment"} & set(decoded.info)


@pytest.mark.parametrize("name", list(STYLES))
def test_the_same_input_gives_the_same_bytes(name: str, tmp_path: Path) -> None:
    tagged = image_with_metadata(tmp_path)
    bare = Image.fromarray(np.asarray(tagged), "RGB")
    activation = np.random.default_rng(1).normal(size=(16, 24)).astype(np.float32)
    box = percentile_box(activation)
    first = render_stimulus(tagged, activation, STYLES[name], box)
    assert render_stimulus(tagged, activation.copy(), STYLES[name], box) == first
    assert render_stimulus(bare, activation, STYLES[name], box) == first
