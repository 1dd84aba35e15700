"""Stimulus pictures: style files, the overlay recipe, boxes, bare files, batching and the CLI."""

from __future__ import annotations

import dataclasses
import inspect
import io
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib import colormaps
from PIL import Image

import protopool.maps
from protopool.cli import main
from protopool.config import Config, TreeConfig
from protopool.execution import StepSettings
from protopool.maps import PairMap, PreparedImage, percentile_box
from protopool.models import PrototypeModel, build_model
from protopool.rendering import (
    RenderedPair,
    RenderError,
    RenderStyle,
    StimulusFiles,
    StyleError,
    load_style,
    pair_box,
    render_overlay,
    render_pairs,
    render_stimulus,
    style_from_dict,
)
from protopool.training.runs import train_run

from .conftest import make_index, tiny_config

REPO = Path(__file__).resolve().parents[2]
CPU = StepSettings(torch.device("cpu"))
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


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


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
    activation = protopool.maps.image_map(latent, image)
    return PairMap(0, "hand-made", image, latent, activation, float(latent.max()))


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


# --- nothing but the map reaches the picture --------------------------------------------------


def test_the_renderers_take_no_model() -> None:
    for function in (render_overlay, render_stimulus):
        assert list(inspect.signature(function).parameters) == [
            "image",
            "activation",
            "style",
            "box",
        ]


def three_models() -> dict[str, PrototypeModel]:
    """ProtoPool with the focal and the ProtoPNet similarity, and a depth-2 ProtoTree."""
    config = tiny_config()
    protopnet = dataclasses.replace(config.model, similarity="protopnet")
    tree = dataclasses.replace(config.model, kind="prototree")
    return {
        "protopool-focal": build_model(config, 3),
        "protopool-protopnet": build_model(dataclasses.replace(config, model=protopnet), 3),
        "prototree": build_model(Config(model=tree, data=config.data, tree=TreeConfig(depth=2)), 3),
    }


@pytest.fixture(scope="module")
def models() -> dict[str, PrototypeModel]:
    torch.manual_seed(0)
    return three_models()


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for number, size in enumerate(((24, 18), (17, 23), (32, 32))):
        path = root / f"image-{number}.png"
        noise_image(*size, seed=number).save(path)
        paths.append(path)
    return paths


def injected(latent: torch.Tensor) -> Callable[..., torch.Tensor]:
    """A stand-in for ``latent_maps`` giving every prototype of every image the same map."""

    def fake(model: PrototypeModel, images: torch.Tensor, settings: StepSettings) -> torch.Tensor:
        return latent.expand(len(images), model.num_prototypes, *latent.shape).clone()

    return fake


def collect(into: list[StimulusFiles]) -> Callable[[RenderedPair, StimulusFiles], None]:
    return lambda record, files: into.append(files)


@st.composite
def style_choices(draw: st.DrawFn) -> RenderStyle:
    normalisation = draw(st.sampled_from(["minmax", "fixed"]))
    return RenderStyle(
        normalisation=normalisation,
        fixed_range=(-1.0, 2.0) if normalisation == "fixed" else None,
        box=draw(st.booleans()),
        box_rule=draw(st.sampled_from(["percentile", "prototree"])),
        size=draw(st.sampled_from([None, (20, 16)])),
        format=draw(st.sampled_from(["png", "jpeg", "webp"])),
        pair=draw(st.sampled_from(["separate", "side_by_side"])),
    )


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    latent=st.integers(1, 6).flatmap(
        lambda side: arrays(np.float32, (side, side), elements=st.floats(-4, 4, width=32))
    ),
    style=style_choices(),
    image=st.integers(0, 2),
    crop=st.sampled_from([None, (3.0, 2.0, 12.0, 14.0)]),
)
def test_one_map_gives_the_same_files_whatever_model_produced_it(
    models: dict[str, PrototypeModel],
    image_files: list[Path],
    latent: np.ndarray,
    style: RenderStyle,
    image: int,
    crop: tuple[float, ...] | None,
) -> None:
    """The same latent map, injected under ProtoPool-focal, ProtoPool-protopnet and ProtoTree,
    renders to byte-identical files under every style: the model's kind, similarity and pool
    size never reach the picture."""
    data = tiny_config().data
    rendered: dict[str, list[StimulusFiles]] = {}
    for name, model in models.items():
        rendered[name] = []
        with mock.patch.object(protopool.maps, "latent_maps", injected(torch.from_numpy(latent))):
            render_pairs(
                model, [(0, image_files[image], crop)], data, CPU, style, collect(rendered[name])
            )
    assert rendered["protopool-focal"] == rendered["protopool-protopnet"] == rendered["prototree"]


# --- batches ----------------------------------------------------------------------------------


@pytest.fixture
def counted_passes() -> Iterator[list[int]]:
    """Batch sizes of every forward pass ``maps_for_pairs`` makes."""
    passes: list[int] = []
    real = protopool.maps.latent_maps

    def counting(model: PrototypeModel, images: torch.Tensor, settings: StepSettings) -> Any:
        passes.append(len(images))
        return real(model, images, settings)

    with mock.patch.object(protopool.maps, "latent_maps", counting):
        yield passes


def test_pairs_share_one_pass_per_image_batch_and_come_back_in_order(
    models: dict[str, PrototypeModel],
    image_files: list[Path],
    counted_passes: list[int],
    tmp_path: Path,
) -> None:
    model, data = models["protopool-focal"], tiny_config().data
    pairs = [(p, image_files[i], None) for p in (4, 1) for i in (2, 0, 1)]
    style = RenderStyle(pair="separate")
    records = render_pairs(model, pairs, data, CPU, style, tmp_path, batch_size=2)
    assert counted_passes == [2, 1]
    assert [(r.position, r.prototype, r.image) for r in records] == [
        (n, p, str(path)) for n, (p, path, _) in enumerate(pairs)
    ]
    assert records[0].paths == (tmp_path / "pair-00000.png", tmp_path / "pair-00000-original.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name
        for r in records
        for name in (f"pair-{r.position:05d}.png", f"pair-{r.position:05d}-original.png")
    )
    # Written files are the pictures of the pair's own map.
    maps = protopool.maps.maps_for_pairs(model, pairs[:1], data, CPU)
    expected = render_stimulus(
        maps[0].prepared.original, maps[0].activation, style, pair_box(maps[0], style)
    )
    assert (tmp_path / "pair-00000.png").read_bytes() == expected.data("overlay")


def test_a_bad_pair_late_in_a_request_writes_nothing(
    models: dict[str, PrototypeModel], image_files: list[Path], tmp_path: Path
) -> None:
    model, data = models["protopool-focal"], tiny_config().data
    out = tmp_path / "out"
    for bad, message in (
        ((99, image_files[0], None), "prototype 99 does not exist"),
        ((0, tmp_path / "gone.png", None), "image file not found"),
    ):
        with pytest.raises(ValueError, match=message):
            render_pairs(model, [(0, image_files[1], None), bad], data, CPU, RenderStyle(), out)
        assert not out.exists()


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny trained ProtoPool run and one of its 32 px images."""
    root = tmp_path_factory.mktemp("render")
    index = make_index(root / "squares")
    run = root / "run"
    train_run(tiny_config(joint_epochs=1), run, index=index, log=lambda *_: None)
    return run, index.test[0].path


def test_render_writes_a_side_by_side_png(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, image = trained
    out = tmp_path / "stimulus.png"
    assert (
        main(["render", str(run), "--prototype", "1", "--image", str(image), "--out", str(out)])
        == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["stimulus.png"]
    with Image.open(out) as picture:
        assert (picture.format, picture.size) == ("PNG", (2 * 32 + 8, 32))


def test_render_separate_takes_the_format_from_the_suffix(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    run, image = trained
    style = tmp_path / "separate.yaml"
    style.write_text("pair: separate\nsize: [64, 48]\n")
    out = tmp_path / "pics" / "p2.webp"
    args = ["render", str(run), "--prototype", "2", "--image", str(image), "--out", str(out)]
    assert main([*args, "--style", str(style), "--crop-box", "4,4,20,24"]) == 0
    for path in (out, tmp_path / "pics" / "p2-original.webp"):
        with Image.open(path) as picture:
            assert (picture.format, picture.size) == ("WEBP", (64, 48))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run": "{tmp}"}, "is not a trained run"),
        ({"image": "{tmp}/missing.png"}, "image file not found"),
        ({"prototype": "99"}, "prototype 99 does not exist: the run has"),
        ({"out": "{tmp}/x.gif"}, "unknown picture suffix '.gif'"),
        ({"style": "format: jpeg\n"}, "sets format jpeg but x.png asks for png"),
        ({"style": "heat: 0.3\n"}, "unknown style field"),
    ],
    ids=["untrained-run", "missing-image", "prototype-out-of-range", "suffix", "format", "style"],
)
def test_render_errors_exit_2_with_a_message_and_write_nothing(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    run, image = trained
    values = {"run": str(run), "prototype": "0", "image": str(image), "out": "{tmp}/x.png"}
    values.update(change)
    values = {key: value.replace("{tmp}", str(tmp_path)) for key, value in values.items()}
    args = ["render", values["run"], "--prototype", values["prototype"]]
    args += ["--image", values["image"], "--out", values["out"]]
    if "style" in values:
        (tmp_path / "style.yaml").write_text(values["style"])
        args += ["--style", str(tmp_path / "style.yaml")]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not any(p.suffix in (".png", ".gif") for p in tmp_path.iterdir())


def test_a_malformed_crop_box_is_a_usage_error(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, image = trained
    args = ["render", str(run), "--prototype", "0", "--image", str(image)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "x.png"), "--crop-box", "1,2,3"])
    assert exit_info.value.code == 2
    assert "x,y,width,height" in capsys.readouterr().err
