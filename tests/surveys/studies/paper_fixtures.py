"""Datasets and catalogue runs for building ``configs/studies/paper.yaml`` in the tests.

The real CUB-200-2011 and Stanford Cars are read from a path and are not here. The tests stand
in with a SynthBirds tree, which is in CUB-200-2011's format, and the same pictures written as a
Stanford Cars devkit (``cars_meta.mat``, ``cars_train_annos.mat``, the labelled test file and
the image folders), so the tiny runs trained on SynthBirds classify them as they were trained
to. Each of the paper's six runs is a copy of a tiny run directory (a run is one catalogue row
per directory), registered under the label ``paper.yaml`` names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import scipy.io

from protopool.data import Sample, open_dataset
from surveys.models import Run
from tests.surveys.studies.fixtures import register_run

PAPER_SPEC = Path(__file__).resolve().parents[3] / "configs" / "studies" / "paper.yaml"
# Run label stems in paper.yaml, by the tiny run each copies.
PAPER_RUNS = {
    "pool": "ProtoPool focal",
    "pnet": "ProtoPool ProtoPNet similarity",
    "tree": "ProtoTree",
}
DATASETS = {"CUB": "CUB-200-2011", "Cars": "Stanford Cars"}


def _annotations(samples: list[Sample], names: list[str], labelled: bool = True) -> np.ndarray:
    """Devkit ``annotations``: a (1, N) struct array, boxes 1-based and inclusive."""
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"] + (["class"] if labelled else [])
    array = np.zeros((1, len(samples)), dtype=[(f, "O") for f in [*fields, "fname"]])
    for index, (sample, name) in enumerate(zip(samples, names, strict=True)):
        box = sample.bbox
        assert box is not None
        x1, y1 = int(box.x) + 1, int(box.y) + 1
        values = [x1, y1, x1 + int(box.width) - 1, y1 + int(box.height) - 1]
        values += [sample.label + 1] if labelled else []
        for field, value in zip(fields, values, strict=True):
            array[0, index][field] = np.array([[value]], dtype=np.uint16)
        array[0, index]["fname"] = np.array([name])
    return array


def write_cars_copy(source: Path, out: Path) -> Path:
    """The pictures of a CUB-format dataset written as a Stanford Cars tree; returns ``out``."""
    index = open_dataset(source)
    root = out / "stanford_cars"
    devkit = root / "devkit"
    devkit.mkdir(parents=True)
    classes = np.empty((1, len(index.class_names)), dtype=object)
    classes[0, :] = index.class_names
    scipy.io.savemat(devkit / "cars_meta.mat", {"class_names": classes})
    for split, samples in (("cars_train", index.train), ("cars_test", index.test)):
        names = [f"{i + 1:05d}{Path(s.path).suffix}" for i, s in enumerate(samples)]
        (root / split).mkdir()
        for sample, name in zip(samples, names, strict=True):
            shutil.copyfile(sample.path, root / split / name)
        if split == "cars_train":
            scipy.io.savemat(
                devkit / "cars_train_annos.mat", {"annotations": _annotations(samples, names)}
            )
        else:
            labelled = {"annotations": _annotations(samples, names)}
            scipy.io.savemat(root / "cars_test_annos_withlabels.mat", labelled)
            unlabelled = {"annotations": _annotations(samples, names, labelled=False)}
            scipy.io.savemat(devkit / "cars_test_annos.mat", unlabelled)
    return out


def register_paper_runs(
    runs: dict[str, Path], datasets: dict[str, Path], scratch: Path
) -> dict[str, Run]:
    """The six runs of paper.yaml in the catalogue: each tiny run copied once per dataset."""
    registered = {}
    for short, stem in PAPER_RUNS.items():
        for tag, folder in datasets.items():
            copy = shutil.copytree(runs[short], scratch / f"{short}-{tag}")
            label = f"{stem} ({tag})"
            run = register_run(copy, label, DATASETS[tag])
            Run.objects.filter(pk=run.pk).update(dataset_dir=str(folder))
            registered[label] = run
    return registered


__all__ = ["DATASETS", "PAPER_RUNS", "PAPER_SPEC", "register_paper_runs", "write_cars_copy"]
