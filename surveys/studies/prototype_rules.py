"""The spec's ``prototype_rule``: which of a run's prototypes a stimulus shows on an image.

* ``random``: one the run links to the image's class, drawn with the design's seed;
* ``top_activated``: of those, the one most activated on the image;
* ``on_decision_path``: one the model's decision on the image consulted (a ProtoPool: the
  slots of the class it predicts);
* ``projection_source``: each prototype on the training image it was projected onto (the
  image comes with the prototype, so conditions show different images).

A ProtoTree decides by one path from the root to a leaf, so for a tree every rule draws only
from the internal nodes on the image's own path: never a node the image is routed away from,
and never the root, which every image passes (:func:`protopool.inference.image_evidence`). For a
tree ``random`` and ``on_decision_path`` are therefore the same draw, and ``projection_source``
keeps only nodes whose source image is routed through them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from protopool.data import DatasetError
from protopool.execution import StepSettings
from protopool.inference import ImageEvidence, image_evidence, load_run
from protopool.inference import Run as LoadedRun
from surveys.common.checks import SpecError, SpecProblem
from surveys.models import Prototype, Run, RunKind
from surveys.studies.design import ImageInfo
from surveys.studies.spec import PROTOTYPE_RULES

# Rules that need the model's view of each image (a ProtoTree needs it under every rule).
MODEL_RULES = ("top_activated", "on_decision_path")


@lru_cache(maxsize=4)
def _loaded(run_dir: str, fingerprint: str, device: str) -> LoadedRun:
    return load_run(run_dir, device)


def _device() -> str:
    return str(getattr(settings, "SURVEYS_RENDER_DEVICE", "cpu"))


class ModelPicker:
    """Candidates per image from the run's model, computed in batches and kept per image.

    Args:
        run: The catalogue run.
        folder: Its dataset folder (image ids are paths below it).
        crops: The run crops images to their object box.
        rule: One of :data:`PROTOTYPE_RULES` but ``projection_source``.
        candidates: Catalogue prototype ids the run links to each class.
    """

    def __init__(
        self,
        run: Run,
        folder: Path,
        crops: bool,
        rule: str,
        candidates: Mapping[int, Sequence[int]],
    ) -> None:
        self.run, self.folder, self.crops, self.rule = run, folder, crops, rule
        self.candidates = candidates
        self.by_index = dict(Prototype.objects.filter(run=run).values_list("index", "pk"))
        self.tree = run.kind == RunKind.PROTOTREE
        self.answers: dict[str, tuple[int, ...]] = {}

    def evidence(self, images: Sequence[ImageInfo]) -> list[ImageEvidence]:
        """The model's view of these images (raises SpecError when the run cannot be loaded)."""
        try:
            loaded = _loaded(self.run.run_dir, self.run.fingerprint, _device())
        except (ValueError, OSError, RuntimeError) as exc:
            message = (
                f"prototype_rule {self.rule!r} needs run {self.run.label!r}'s model, which cannot "
                f"be loaded from {self.run.run_dir}: {exc}"
            )
            raise SpecError([SpecProblem("prototype_rule", message)]) from None
        device = loaded.model.prototypes.device
        step = StepSettings(device, loaded.config.train.amp if device.type == "cuda" else "none")
        inputs = [
            (self.folder / image.image_id, image.bbox if self.crops else None) for image in images
        ]
        try:
            return image_evidence(loaded.model, inputs, loaded.config.data, step)
        except DatasetError as exc:
            raise SpecError([SpecProblem("prototype_rule", str(exc))]) from None

    def prepare(self, images: Sequence[ImageInfo]) -> None:
        todo = [image for image in images if image.image_id not in self.answers]
        if not todo:
            return
        for image, seen in zip(todo, self.evidence(todo), strict=True):
            self.answers[image.image_id] = self._choose(image, seen)

    def __call__(self, image: ImageInfo) -> Sequence[int]:
        self.prepare([image])
        return self.answers[image.image_id]

    def _choose(self, image: ImageInfo, seen: ImageEvidence) -> tuple[int, ...]:
        if self.tree or self.rule == "on_decision_path":
            pool = list(seen.path)
        else:
            known = {pk: index for index, pk in self.by_index.items()}
            pool = [known[pk] for pk in self.candidates.get(image.label, ()) if pk in known]
        pool = [index for index in pool if index in self.by_index]
        if self.rule == "top_activated" and pool:
            pool = [max(pool, key=lambda index: (seen.similarity[index], -index))]
        return tuple(self.by_index[index] for index in pool)


def needs_model(run: Run, rule: str) -> bool:
    """Whether the rule needs the run's model at design time (a tree's path, under any rule)."""
    return rule in MODEL_RULES or run.kind == RunKind.PROTOTREE


def projection_sources(
    run: Run, folder: Path, crops: bool, images: Mapping[str, ImageInfo]
) -> list[tuple[int, ImageInfo]]:
    """Each prototype with its projection source image, where the dataset holds that image.

    ``images`` maps the dataset's own identifiers (``Sample.image_id``, what projection
    records) to their infos. For a ProtoTree only nodes on their source image's path are kept.
    """
    pairs: list[tuple[int, ImageInfo]] = []
    for pk, provenance in Prototype.objects.filter(run=run).values_list("pk", "provenance"):
        source = provenance.get("image_id") if isinstance(provenance, dict) else None
        if isinstance(source, str) and source in images:
            pairs.append((pk, images[source]))
    if run.kind != RunKind.PROTOTREE or not pairs:
        return pairs
    picker = ModelPicker(run, folder, crops, "on_decision_path", {})
    distinct = list({image.image_id: image for _, image in pairs}.values())
    picker.prepare(distinct)
    return [(pk, image) for pk, image in pairs if pk in picker.answers[image.image_id]]


__all__ = ["MODEL_RULES", "PROTOTYPE_RULES", "ModelPicker", "needs_model", "projection_sources"]
