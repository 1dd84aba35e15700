"""Reopening a trained run with a part-annotated dataset, for naming and the metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from protopool.checkpoint import check_compatible, model_from_checkpoint, read_checkpoint
from protopool.config import Config
from protopool.data.base import DatasetIndex, Sample, split_validation
from protopool.data.cub import attributes_file
from protopool.data.cub_attributes import load_cub_annotations
from protopool.execution import StepSettings
from protopool.interpretability.attributes import AttributeTable
from protopool.interpretability.parts import PartSpace
from protopool.models import PrototypeModel
from protopool.rundir import RunPaths
from protopool.seed import resolve_device
from protopool.training.runs import load_config_for_run, open_index


class PartsRequiredError(ValueError):
    """The dataset has no part annotations, which naming and the metrics are built on."""


def require_parts(index: DatasetIndex, what: str = "naming") -> None:
    """Refuse a dataset without CUB part keypoints.

    Raises:
        PartsRequiredError: With the dataset's format and what would work instead.
    """
    if not index.part_names or not any(sample.parts for sample in index.train):
        raise PartsRequiredError(
            f"{what} needs part annotations (CUB-200-2011's parts/parts.txt and "
            f"parts/part_locs.txt), and {index.root} is a {index.format} dataset without "
            "them; use CUB-200-2011 or a SynthBirds tree (protopool synth)"
        )


@dataclass(frozen=True, eq=False)
class RunInputs:
    """A trained run and its dataset, opened for interpretation.

    Attributes:
        run_dir: The run directory.
        config: The run's configuration (with any ``--data`` and ``--device``).
        model: The selected model, in eval mode.
        index: The dataset.
        settings: Device and precision, evaluation's.
    """

    run_dir: Path
    config: Config
    model: PrototypeModel
    index: DatasetIndex
    settings: StepSettings

    def training_images(self) -> list[Sample]:
        """The images projection searched: the training split less the validation images."""
        data, seed = self.config.data, self.config.train.seed
        return split_validation(self.index.train, data.validation_fraction, seed)[0]

    def part_space(self, merge: bool) -> PartSpace:
        return PartSpace.of(self.index.part_names, merge)

    def attribute_table(self, certainty_weighted: bool = False) -> AttributeTable | None:
        """The dataset's attribute labels, or None when it has no ``attributes/``."""
        if attributes_file(self.index.root) is None:
            return None
        annotations = load_cub_annotations(self.index.root)
        ids = [sample.image_id for sample in self.training_images()]
        return AttributeTable.build(annotations, ids, certainty_weighted)

    def used_prototypes(self) -> torch.Tensor:
        """``(C, P)`` bool: the classes that use each prototype (``prototype_classes()``)."""
        return self.model.prototype_classes().cpu()


def open_run(
    run_dir: Path, data: str | None = None, device: str | None = None, what: str = "naming"
) -> RunInputs:
    """Open ``run_dir`` with its dataset (or ``data``) and check the dataset has parts.

    Raises:
        RunDirError: ``run_dir`` is not a trained run.
        PartsRequiredError: The dataset has no part annotations.
        DatasetError, CheckpointError: The dataset cannot be read or is not the run's.
    """
    RunPaths(run_dir).require()
    overrides = []
    if data:
        overrides.append(f"data.root={json.dumps(str(Path(data).resolve()))}")
    if device:
        overrides.append(f"train.device={device}")
    config = load_config_for_run(run_dir, overrides)
    index = open_index(config.data.root)
    require_parts(index, what)
    checkpoint = read_checkpoint(RunPaths(run_dir).best)
    check_compatible(checkpoint, config, index.class_names)
    torch_device = resolve_device(config.train.device)
    model = model_from_checkpoint(checkpoint, torch_device).eval()
    settings = StepSettings(torch_device, config.train.amp, config.train.channels_last)
    return RunInputs(Path(run_dir), config, model, index, settings)
