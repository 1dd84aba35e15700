"""The public inference API used by the study platform."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.data.base import load_rgb
from protopool.data.transforms import eval_transform
from protopool.inference.runs import (
    class_slots,
    load_run,
    prototype_activation,
    prototype_provenance,
)
from protopool.rundir import RunDirError


def test_load_run_and_activation_maps_at_image_size(run_dir: Path) -> None:
    model, config, class_names = load_run(run_dir)
    assert class_names == ["red", "green", "blue"] and not model.training
    image = Image.new("RGB", (50, 40), (200, 30, 30))
    maps = prototype_activation(load_run(run_dir), image)
    assert maps.shape == (model.num_prototypes, 40, 50)
    assert prototype_activation(run_dir, image, prototypes=[0]).shape == (1, 40, 50)


def test_provenance_and_slots_describe_the_pool(run_dir: Path) -> None:
    run = load_run(run_dir)
    provenance = prototype_provenance(run_dir)
    assert len(provenance) == run.model.num_prototypes
    assert {"image_id", "image_path", "patch", "distance", "classes"} <= set(provenance[0])
    slots = class_slots(run)
    assert set(slots) == {"red", "green", "blue"}


def test_loading_a_directory_without_a_run_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="protopool train"):
        load_run(tmp_path)


def test_activation_maps_can_cover_the_training_crop(run_dir: Path) -> None:
    run = load_run(run_dir)
    image = Image.new("RGB", (50, 40), (30, 200, 30))
    maps = prototype_activation(run, image, crop_box=(10.0, 5.0, 20.0, 30.0))
    assert maps.shape == (run.model.num_prototypes, 30, 20)


def test_fine_tuning_keeps_each_prototype_equal_to_its_source_patch(run_dir: Path) -> None:
    # last.pt is the model after fine-tuning (best.pt may be the one right after projection).
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.pt")
    model = model_from_checkpoint(checkpoint, torch.device("cpu")).eval()
    transform = eval_transform(checkpoint.config.data)
    for record in prototype_provenance(run_dir):
        image = transform(load_rgb(Path(record["image_path"]))).unsqueeze(0)
        h, w = record["patch"]
        with torch.no_grad():
            patch = model.latent(image)[0, :, h, w]
        assert torch.allclose(patch, model.prototypes[record["prototype"]], atol=1e-5), record
