"""Many stimuli at once: nothing but the map reaches the picture, and pairs share passes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import protopool.inference.maps
from protopool.execution import StepSettings
from protopool.models import PrototypeModel
from protopool.rendering import (
    RenderedPair,
    RenderStyle,
    StimulusFiles,
    pair_box,
    render_overlay,
    render_pairs,
    render_stimulus,
)
from tests.protopool.fixtures import tiny_config

CPU = StepSettings(torch.device("cpu"))


# --- nothing but the map reaches the picture --------------------------------------------------


def test_the_renderers_take_no_model() -> None:
    for function in (render_overlay, render_stimulus):
        assert list(inspect.signature(function).parameters) == [
            "image",
            "activation",
            "style",
            "box",
        ]


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
        with mock.patch.object(
            protopool.inference.maps, "latent_maps", injected(torch.from_numpy(latent))
        ):
            render_pairs(
                model, [(0, image_files[image], crop)], data, CPU, style, collect(rendered[name])
            )
    assert rendered["protopool-focal"] == rendered["protopool-protopnet"] == rendered["prototree"]


# --- batches ----------------------------------------------------------------------------------


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
    maps = protopool.inference.maps.maps_for_pairs(model, pairs[:1], data, CPU)
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
