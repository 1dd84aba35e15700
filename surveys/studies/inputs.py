"""What the design reads before it is worked out: each condition's dataset and prototypes.

Images come from the dataset the condition's run was trained on (``protopool.data.open_dataset``
on the catalogue's ``dataset_dir``); a prototype "the run uses for a class" is one the catalogue
links to that class (projection's record: a ProtoPool's slots, or for a ProtoTree the classes
of the leaves below the prototype's node). Which of them a stimulus shows is the spec's
``prototype_rule`` (:mod:`surveys.studies.prototype_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from protopool.data import DatasetError, DatasetIndex, Sample, open_dataset
from surveys.common.checks import SpecError, SpecProblem
from surveys.models import Prototype, Run
from surveys.studies.design import ConditionInput, DatasetInput, ImageInfo
from surveys.studies.gold import Size
from surveys.studies.prototype_rules import ModelPicker, needs_model, projection_sources
from surveys.studies.spec import StudySpec


@dataclass(frozen=True)
class DesignInputs:
    conditions: list[ConditionInput]
    datasets: list[DatasetInput]
    folders: dict[str, Path]

    def image_size(self, dataset: str, image: ImageInfo) -> Size:
        with Image.open(self.folders[dataset] / image.image_id) as opened:
            width, height = opened.size
        return (width, height)


def dataset_folder(run: Run) -> str:
    """The run's dataset folder: the catalogue's, else the one the run's config records."""
    data = run.config.get("data") if isinstance(run.config, dict) else None
    recorded = data.get("root") if isinstance(data, dict) else None
    return run.dataset_dir or (str(recorded) if recorded else "")


def image_id(sample: Sample, folder: Path) -> str:
    """The sample's path below the dataset folder (what a stimulus records as its image)."""
    try:
        return Path(sample.path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(sample.path).as_posix()


def image_info(sample: Sample, folder: Path) -> ImageInfo:
    box = sample.bbox
    bbox = (box.x, box.y, box.width, box.height) if box is not None else None
    return ImageInfo(image_id(sample, folder), sample.label, bbox)


def read_design_inputs(spec: StudySpec) -> DesignInputs:
    """Open every condition's dataset and read its prototypes by class.

    Raises:
        SpecError: A dataset that cannot be opened, classes that do not match the run's, or
            two conditions of one dataset label on different folders.
    """
    problems: list[SpecProblem] = []
    folders: dict[str, Path] = {}
    indexes: dict[str, DatasetIndex] = {}
    conditions: list[ConditionInput] = []
    for position, condition in enumerate(spec.conditions):
        where = f"conditions[{position}].run"
        index = _open(condition.run, condition.dataset, folders, indexes, where, problems)
        if index is not None:
            _check_classes(condition.run, index, where, problems)
        if problems:
            continue
        conditions.append(
            _condition_input(
                condition.run,
                condition.label,
                condition.dataset,
                spec.prototype_rule,
                folders[condition.dataset],
                indexes[condition.dataset],
            )
        )
    if problems:
        raise SpecError(problems)
    datasets = [_dataset_input(name, indexes[name], folders[name], spec.split) for name in indexes]
    return DesignInputs(conditions, datasets, folders)


def _open(
    run: Run,
    dataset: str,
    folders: dict[str, Path],
    indexes: dict[str, DatasetIndex],
    where: str,
    problems: list[SpecProblem],
) -> DatasetIndex | None:
    recorded = dataset_folder(run)
    if not recorded:
        message = f"run {run.label!r} records no dataset folder; re-import it with --dataset DIR"
        problems.append(SpecProblem(where, message))
        return None
    folder = Path(recorded)
    known = folders.get(dataset)
    if known is not None:
        if known.resolve() != folder.resolve():
            message = (
                f"dataset {dataset!r} is {known} for another condition but {folder} for run "
                f"{run.label!r}; give the conditions different dataset labels"
            )
            problems.append(SpecProblem(where, message))
            return None
        return indexes[dataset]
    try:
        index = open_dataset(folder)
    except DatasetError as exc:
        problems.append(SpecProblem(where, f"cannot open the dataset of run {run.label!r}: {exc}"))
        return None
    folders[dataset], indexes[dataset] = folder, index
    return index


def _check_classes(run: Run, index: DatasetIndex, where: str, problems: list[SpecProblem]) -> None:
    names = dict(run.classes.values_list("index", "name"))
    if not names:
        message = f"the catalogue holds no classes of run {run.label!r}; re-import it"
        problems.append(SpecProblem(where, message))
        return
    for label, name in sorted(names.items()):
        theirs = index.class_names[label] if label < len(index.class_names) else None
        if theirs != name:
            message = (
                f"run {run.label!r} calls class {label} {name!r} but its dataset calls it "
                f"{theirs!r}: the run was not trained on {index.root}; re-import it with the "
                "right --dataset"
            )
            problems.append(SpecProblem(where, message))
            return


def _condition_input(
    run: Run, label: str, dataset: str, rule: str, folder: Path, index: DatasetIndex
) -> ConditionInput:
    candidates: dict[int, list[int]] = {}
    prototypes = list(Prototype.objects.filter(run=run).prefetch_related("classes"))
    for prototype in prototypes:
        for run_class in prototype.classes.all():
            candidates.setdefault(run_class.index, []).append(prototype.pk)
    data = run.config.get("data", {}) if isinstance(run.config, dict) else {}
    crops = bool(data.get("crop_to_bbox")) if isinstance(data, dict) else False
    pick = None
    if needs_model(run, rule):
        # A tree's gold and instructed items keep to the image's path too.
        model_rule = rule if rule != "projection_source" else "random"
        pick = ModelPicker(run, folder, crops, model_rule, candidates)
    sources: Sequence[tuple[int, ImageInfo]] = ()
    if rule == "projection_source":
        known = {sample.image_id: image_info(sample, folder) for sample in _all(index)}
        sources = projection_sources(run, folder, crops, known)
    return ConditionInput(
        label, dataset, candidates, (), crops, pick, sources, rule == "projection_source"
    )


def _all(index: DatasetIndex) -> list[Sample]:
    return [*index.train, *index.test]


def _dataset_input(name: str, index: DatasetIndex, folder: Path, split: str) -> DatasetInput:
    chosen, other = (index.test, index.train) if split == "test" else (index.train, index.test)
    return DatasetInput(
        name,
        [image_info(sample, folder) for sample in chosen],
        [image_info(sample, folder) for sample in other],
    )


__all__ = ["DesignInputs", "dataset_folder", "image_id", "read_design_inputs"]
