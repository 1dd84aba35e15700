"""SynthBirds: determinism, CUB-format consistency, ground truth and safe writing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from protopool.data import (
    DatasetError,
    generate_synthbirds,
    load_cub,
    load_cub_annotations,
    open_dataset,
    verify_images,
)
from protopool.data.synth import Species, make_species, species_names
from protopool.data.synth.species import part_differences, salient_differences


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    args = {"classes": 3, "images_per_class": 3, "size": 48, "seed": 11, "progress": False}
    first = _files(generate_synthbirds(tmp_path / "a", **args))
    second = _files(generate_synthbirds(tmp_path / "b", **args))
    other_seed = _files(generate_synthbirds(tmp_path / "c", **{**args, "seed": 12}))
    assert first == second
    jpegs = [name for name in first if name.endswith(".jpg")]
    assert len(jpegs) == 9
    assert any(first[name] != other_seed.get(name) for name in first)


def test_output_is_a_loadable_cub_tree(synthbirds: Path) -> None:
    index = open_dataset(synthbirds)
    assert index.format == "cub"
    assert index.num_classes == 4
    assert len(index.train) == len(index.test) == 12
    assert index.part_names[6] == "left eye" and len(index.part_names) == 15
    assert len(index.attribute_names) == 312
    assert verify_images(index) == []
    for label in range(4):
        assert sum(s.label == label for s in index.train) == 3


def test_parts_lie_inside_image_and_box(synthbirds: Path) -> None:
    index = load_cub(synthbirds)
    for sample in index.train + index.test:
        box = sample.bbox
        assert box.x >= 0 and box.x + box.width <= 64 and box.y >= 0 and box.y + box.height <= 64
        assert box.width > 20  # the bird is a substantial part of the frame
        visible = {p.part_id for p in sample.parts if p.visible}
        for part in sample.parts:
            if part.visible:
                assert box.x <= part.x <= box.x + box.width
                assert box.y <= part.y <= box.y + box.height
            else:
                assert (part.x, part.y) == (0.0, 0.0)
        # Exactly one side faces the camera: never both eyes, wings or legs.
        for left, right in ((7, 11), (8, 12), (9, 13)):
            assert not {left, right} <= visible


def test_attribute_files_follow_cub(synthbirds: Path) -> None:
    lines = (synthbirds / "attributes" / "image_attribute_labels.txt").read_text().splitlines()
    assert len(lines) == 24 * 312
    assert sorted({len(line.split()) for line in lines}) == [5, 6]
    annotations = load_cub_annotations(synthbirds)
    names = annotations.attribute_names
    assert names[135] == "has_eye_color::blue" and names[148] == "has_eye_color::buff"
    assert (
        names[212] == "has_wing_shape::rounded-wings"
        and names[311] == "has_wing_pattern::multi-colored"
    )
    assert annotations.class_attribute_percent.shape == (4, 312)
    # Wherever a wing is visible, exactly one wing pattern is marked present.
    wing_visible = annotations.certainty[:, 308] > 1
    assert (annotations.is_present[wing_visible, 308:312].sum(axis=1) == 1).all()
    hidden = annotations.certainty == 1
    assert (annotations.is_present[hidden] == 0).all()


def test_ground_truth_matches_attribute_labels(synthbirds: Path) -> None:
    truth = json.loads((synthbirds / "synthbirds.json").read_text())
    assert truth["generator"] == "synthbirds" and truth["config"]["seed"] == 3
    annotations = load_cub_annotations(synthbirds)
    crown = annotations.group_columns()["crown_color"]
    for species in truth["species"]:
        colour = species["attributes"]["crown"]
        column = annotations.attribute_names.index(f"has_crown_color::{colour}")
        assert column in crown
        assert annotations.class_attribute_percent[species["class_id"] - 1, column] > 50


def test_every_pair_of_species_differs_in_two_salient_parts() -> None:
    species = make_species(40, np.random.default_rng(0))
    for a, b in itertools.combinations(species, 2):
        assert salient_differences(a, b) >= 2
        assert part_differences(a, b) >= 2
    names = species_names(species)
    assert len(set(names)) == 40 and all(" " not in name for name in names)
    # Genera share plumage: some pairs differ in only a few of the nine part attributes.
    assert min(part_differences(a, b) for a, b in itertools.combinations(species, 2)) <= 3
    assert isinstance(species[0], Species)


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "birds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="--force"):
        generate_synthbirds(out, 2, 2, 32, progress=False)
    generate_synthbirds(out, 2, 2, 32, progress=False, force=True)
    assert not (out / "keep.txt").exists() and (out / "images.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["birds"]


def test_failed_run_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import protopool.data.synth.writer as writer

    def explode(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write", explode)
    with pytest.raises(KeyboardInterrupt):
        generate_synthbirds(tmp_path / "birds", 2, 2, 32, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": 0}, "--classes"),
        ({"images_per_class": 1}, "--images-per-class"),
        ({"size": 8}, "--size"),
        ({"train_fraction": 1.0}, "train fraction"),
    ],
)
def test_invalid_settings_are_explained(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        generate_synthbirds(tmp_path / "x", **kwargs)
