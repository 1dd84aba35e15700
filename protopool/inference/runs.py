"""A trained run loaded for inference: its model, config and classes, what projection wrote,
its class slots, and its prototypes' activation maps on one image.

Example:
    >>> run = load_run("runs/synthbirds-cpu")
    >>> maps = prototype_activation(run, "bird.png")   # (P, H, W), original image size
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.config import Config, DataConfig
from protopool.data.base import load_rgb
from protopool.data.transforms import eval_transform
from protopool.models import ProtoPool, PrototypeModel
from protopool.rundir import RunPaths, read_json


class Run(NamedTuple):
    """A trained run, ready for inference (the model is in eval mode)."""

    model: PrototypeModel
    config: Config
    class_names: list[str]


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> Run:
    """Load the selected (best) model of a run directory.

    Raises:
        RunDirError: The directory holds no trained run.
    """
    paths = RunPaths(run_dir)
    paths.require()
    checkpoint = read_checkpoint(paths.best)
    model = model_from_checkpoint(checkpoint, torch.device(device)).eval()
    return Run(model, checkpoint.config, list(checkpoint.class_names))


def prototype_provenance(run_dir: str | Path) -> list[dict[str, Any]]:
    """Per-prototype provenance written by projection (image id, patch, distance, classes)."""
    records: list[dict[str, Any]] = read_json(RunPaths(run_dir).projection)["prototypes"]
    return records


def _as_run(run_or_model: Run | PrototypeModel | str | Path) -> tuple[PrototypeModel, DataConfig]:
    if isinstance(run_or_model, str | Path):
        run_or_model = load_run(run_or_model)
    if isinstance(run_or_model, Run):
        return run_or_model.model, run_or_model.config.data
    return run_or_model, DataConfig(image_size=run_or_model.image_size)


@torch.no_grad()
def prototype_activation(
    run_or_model: Run | PrototypeModel | str | Path,
    image: Image.Image | str | Path,
    prototypes: list[int] | None = None,
    crop_box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Activation maps of prototypes on one image, upsampled to the image's own size.

    The map is the run's similarity at every latent location (for ``focal`` and ``protopnet``
    the log similarity, for ``prototree`` ``exp(-d)``), bicubically upsampled like the
    reference implementations. The input is resized to the model's input size first.

    Args:
        run_or_model: A :class:`Run`, a run directory or a model.
        image: A PIL image or an image file.
        prototypes: Pool indices to return (all when None).
        crop_box: ``(x, y, width, height)`` to crop to first, as training did for datasets
            with boxes (``crop_box`` in the projection provenance); the maps then cover the
            crop.

    Returns:
        ``(P, H, W)`` float32 maps, H x W being the size in pixels of the (cropped) image.
    """
    model, data_config = _as_run(run_or_model)
    if not isinstance(image, Image.Image):
        image = load_rgb(Path(image))
    image = image.convert("RGB")
    if crop_box is not None:
        x, y, width, height = crop_box
        image = image.crop((int(x), int(y), int(round(x + width)), int(round(y + height))))
    device = model.prototypes.device
    batch = eval_transform(data_config)(image).unsqueeze(0).to(device)
    model.eval()
    maps = model.similarity.activation_map(model.distances(batch))[0]
    if prototypes is not None:
        maps = maps[torch.as_tensor(prototypes, device=device)]
    width, height = image.size
    upsampled = F.interpolate(maps[None], size=(height, width), mode="bicubic", align_corners=False)
    return upsampled[0].float().cpu().numpy()


def class_slots(run: Run) -> dict[str, list[int]]:
    """For each class name, the pool indices of its slots under the hard assignment.

    Raises:
        ValueError: The run is a ProtoTree, which has no slots.
    """
    if not isinstance(run.model, ProtoPool):
        raise ValueError("class_slots needs a ProtoPool run; a ProtoTree has no slots")
    hard = run.model.hard_slots()
    winners = run.model.slot_prototypes()
    filled = hard.amax(dim=1) > 0
    return {
        name: [int(p) for p, ok in zip(winners[c], filled[c], strict=True) if ok]
        for c, name in enumerate(run.class_names)
    }


__all__ = ["Run", "class_slots", "load_run", "prototype_activation", "prototype_provenance"]
