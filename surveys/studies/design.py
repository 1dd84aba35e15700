"""The design of a study, worked out on plain data before any row is written.

Per dataset, N images are drawn (seeded) from the sampling split; with K conditions on that
dataset every image gets one stimulus per condition, showing a prototype the condition's run
uses for the image's class. The question sets are Latin-square cells: cell ``c`` shows image
``i`` under condition ``(i + c) mod K``, so each participant sees every image once and every
condition equally often (within one, when K does not divide N). With datasets of different K,
there are ``lcm`` of the K cells. With ``question_sets: fixed`` (the paper's) there is one set
for everyone: image ``i`` is shown under condition ``i mod K`` only. Gold trials (two map anchors,
the instructed-response items and the test-retest repeats) go into every cell, on images no
cell shows otherwise, and two practice pictures on two more (:mod:`surveys.studies.quality`).

Which prototype a stimulus shows is the condition's :class:`PrototypePicker` (the spec's
``prototype_rule``, built in :mod:`surveys.studies.inputs`): by default one linked to the image's
class, drawn with the design's seed. Under ``projection_source`` each prototype is shown on the
training image it was projected onto, so the images of a slot differ between conditions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import QuestionKind
from surveys.studies.gold import BBox, Size
from surveys.studies.quality import (
    QualityChecks,
    add_gold,
    add_practice,
    gold_count,
    gold_kinds,
)


@dataclass(frozen=True)
class ImageInfo:
    """An image of a dataset: its path below the dataset folder, class and object box."""

    image_id: str
    label: int
    bbox: BBox | None = None


LAYOUTS = ("latin_square", "fixed")
# Images whose pickers are asked in one go, so a model-based rule runs batched forward passes.
PICK_BATCH = 32


class PrototypePicker(Protocol):
    """The prototypes a condition may show on an image (empty: the image does not suit it)."""

    def __call__(self, image: ImageInfo) -> Sequence[int]: ...

    def prepare(self, images: Sequence[ImageInfo]) -> None:
        """Work out the answers for these images at once (a batched forward pass)."""


@dataclass(frozen=True)
class ConditionInput:
    """What the design needs of a condition: its dataset and prototypes by class.

    Attributes:
        label: The method label (for the notes).
        dataset: The dataset label.
        candidates: Prototype ids (catalogue keys) the run uses for each class label.
        fallback: Prototypes for a class without its own (a ProtoTree's root, on every path).
        crops: Whether the run crops images to their object box.
        pick: The prototype rule's picker; None draws among ``candidates`` of the image's class.
        sources: ``projection_source``: each prototype with the image it was projected onto.
        from_sources: The stimuli are drawn from ``sources`` (``projection_source``).
    """

    label: str
    dataset: str
    candidates: Mapping[int, Sequence[int]]
    fallback: Sequence[int] = ()
    crops: bool = False
    pick: PrototypePicker | None = None
    sources: Sequence[tuple[int, ImageInfo]] = ()
    from_sources: bool = False

    def prototypes_for(self, label: int) -> Sequence[int]:
        return self.candidates.get(label) or self.fallback

    def prototypes_on(self, image: ImageInfo) -> Sequence[int]:
        """What the condition may show on this image under its prototype rule."""
        if self.pick is not None:
            return self.pick(image)
        return self.prototypes_for(image.label)


@dataclass(frozen=True)
class DatasetInput:
    """A dataset's images: the sampling split, then spares for gold trials if it runs out."""

    name: str
    images: Sequence[ImageInfo]
    spares: Sequence[ImageInfo] = ()


@dataclass(frozen=True)
class StimulusPlan:
    condition: int
    prototype: int
    image_id: str
    crop_box: list[float] | None
    map_override: str = ""
    practice: bool = False


@dataclass(frozen=True)
class QuestionPlan:
    stimulus: int
    kind: str = QuestionKind.REGULAR
    gold_expected: int | None = None
    instruction: str = ""
    repeat_of: int | None = None


@dataclass
class DesignPlan:
    """Stimuli, questions (indices into ``stimuli``) and cells (indices into ``questions``)."""

    stimuli: list[StimulusPlan] = field(default_factory=list)
    questions: list[QuestionPlan] = field(default_factory=list)
    sets: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        stimulus: StimulusPlan,
        kind: str = QuestionKind.REGULAR,
        expected: int | None = None,
        instruction: str = "",
    ) -> int:
        """Add a stimulus and its question; the question's index."""
        self.stimuli.append(stimulus)
        self.questions.append(QuestionPlan(len(self.stimuli) - 1, kind, expected, instruction))
        return len(self.questions) - 1

    def add_repeat(self, original: int) -> int:
        """Add a test-retest repeat of the question ``original``; the repeat's index."""
        stimulus = self.questions[original].stimulus
        self.questions.append(QuestionPlan(stimulus, QuestionKind.REPEAT, None, "", original))
        return len(self.questions) - 1


def plan_design(
    conditions: Sequence[ConditionInput],
    datasets: Sequence[DatasetInput],
    questions_per_dataset: int,
    gold_share: float,
    seed: int,
    image_size: Callable[[str, ImageInfo], Size],
    layout: str = "latin_square",
    checks: QualityChecks | None = None,
) -> DesignPlan:
    """Work out the whole design.

    Args:
        conditions: The study's conditions, in order.
        datasets: One entry per dataset label the conditions use.
        questions_per_dataset: N, the images drawn per dataset.
        gold_share: About this share of each set is gold.
        seed: The sampling seed: the same inputs and seed give the same design.
        image_size: Reads the size of a dataset's image (to place the background gold map).
        layout: ``latin_square`` (every image under every condition, one cell each) or
            ``fixed`` (one set for everyone, each image under one condition).
        checks: The instructed items and repeats of every set (the defaults when omitted).

    Raises:
        SpecError: Too few images, or none fit for a gold trial; the message says what to change.
    """
    rng = random.Random(seed)
    plan = DesignPlan()
    problems: list[SpecProblem] = []
    by_dataset = {
        d.name: [i for i, c in enumerate(conditions) if c.dataset == d.name] for d in datasets
    }
    fixed = layout == "fixed"
    cells = 1 if fixed else math.lcm(*(len(members) for members in by_dataset.values()))
    plan.sets = [[] for _ in range(cells)]
    spares: dict[str, list[ImageInfo]] = {}
    for dataset in datasets:
        members = by_dataset[dataset.name]
        if any(conditions[i].from_sources for i in members):
            found, rest = _regular_from_sources(
                plan, conditions, members, dataset, questions_per_dataset, rng, fixed
            )
        else:
            chosen, rest = _sample(
                dataset, [conditions[i] for i in members], questions_per_dataset, rng
            )
            found = len(chosen)
            if found == questions_per_dataset:
                _regular(plan, conditions, members, chosen, rng, fixed)
        if found < questions_per_dataset:
            problems.append(_too_few(dataset.name, found, questions_per_dataset))
            continue
        spares[dataset.name] = rest
        plan.notes.extend(
            _balance_notes(dataset.name, questions_per_dataset, conditions, members, fixed)
        )
    if problems:
        raise SpecError(problems)
    regular = sum(len(cell) for cell in plan.sets[:1])
    checks = checks or QualityChecks()
    kinds = gold_kinds(gold_count(regular, gold_share, checks), checks)
    sizes = [partial(image_size, name) for name in by_dataset]

    def make(index: int, image: ImageInfo, override: str) -> StimulusPlan:
        return _stimulus(conditions[index], index, image, rng, override)

    add_gold(plan, conditions, by_dataset, spares, kinds, make, sizes, rng)
    arrangement = (
        "one fixed set for every participant (each image under one condition)"
        if fixed
        else f"{cells} question set(s) balanced like a Latin square"
    )
    plan.notes.append(
        f"{arrangement}, each with {regular} regular and {len(plan.sets[0]) - regular} gold "
        "question(s)"
    )
    add_practice(plan, conditions, by_dataset, spares, make, sizes[0])
    return plan


def _eligible(image: ImageInfo, members: Sequence[ConditionInput]) -> bool:
    return all(condition.prototypes_on(image) for condition in members)


def _prepare(members: Sequence[ConditionInput], images: Sequence[ImageInfo]) -> None:
    for condition in members:
        if condition.pick is not None:
            condition.pick.prepare(images)


def _sample(
    dataset: DatasetInput, members: Sequence[ConditionInput], n: int, rng: random.Random
) -> tuple[list[ImageInfo], list[ImageInfo]]:
    """N eligible images in a seeded order, and the unused ones (then the spares) for gold.

    Images are checked in the seeded order and only until N are found: a model-based prototype
    rule then looks at a few batches of images, never at the whole split.
    """
    pool = sorted(dataset.images, key=lambda i: i.image_id)
    rng.shuffle(pool)
    chosen: list[ImageInfo] = []
    rest: list[ImageInfo] = []
    for start in range(0, len(pool), PICK_BATCH):
        batch = pool[start : start + PICK_BATCH]
        if len(chosen) >= n:
            rest.extend(batch)
            continue
        _prepare(members, batch)
        for image in batch:
            wanted = len(chosen) < n and _eligible(image, members)
            (chosen if wanted else rest).append(image)
    spares = sorted(dataset.spares, key=lambda i: i.image_id)
    rng.shuffle(spares)
    return chosen, rest + spares


def _regular(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    members: Sequence[int],
    chosen: Sequence[ImageInfo],
    rng: random.Random,
    fixed: bool = False,
) -> None:
    k = len(members)
    for i, image in enumerate(chosen):
        if fixed:
            # One set: the image appears once, under one condition, as in the paper's study.
            index = members[i % k]
            plan.sets[0].append(plan.add(_stimulus(conditions[index], index, image, rng)))
            continue
        questions = [plan.add(_stimulus(conditions[index], index, image, rng)) for index in members]
        for c, cell in enumerate(plan.sets):
            cell.append(questions[(i + c) % k])


def _regular_from_sources(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    members: Sequence[int],
    dataset: DatasetInput,
    n: int,
    rng: random.Random,
    fixed: bool,
) -> tuple[int, list[ImageInfo]]:
    """``projection_source``: slot ``i`` holds, per condition, a prototype on its own source image.

    No image is used twice in a dataset, so a participant never sees one picture under two
    conditions. Returns the slots filled and the dataset's unused images (for gold).
    """
    k = len(members)
    queues = {}
    for index in members:
        queue = sorted(conditions[index].sources, key=lambda pair: (pair[1].image_id, pair[0]))
        rng.shuffle(queue)
        queues[index] = queue
    used: set[str] = set()
    slots: list[list[int]] = []
    for i in range(n):
        wanted = [members[i % k]] if fixed else list(members)
        slot: list[int] = []
        for index in wanted:
            pair = _next_source(queues[index], used)
            if pair is None:
                return i, []
            prototype, image = pair
            crop = list(image.bbox) if conditions[index].crops and image.bbox else None
            slot.append(plan.add(StimulusPlan(index, prototype, image.image_id, crop)))
        slots.append(slot)
    for i, slot in enumerate(slots):
        for c, cell in enumerate(plan.sets):
            cell.append(slot[0] if fixed else slot[(i + c) % k])
    rest = [image for image in [*dataset.images, *dataset.spares] if image.image_id not in used]
    rest.sort(key=lambda image: image.image_id)
    rng.shuffle(rest)
    return n, rest


def _next_source(
    queue: list[tuple[int, ImageInfo]], used: set[str]
) -> tuple[int, ImageInfo] | None:
    while queue:
        prototype, image = queue.pop()
        if image.image_id not in used:
            used.add(image.image_id)
            return prototype, image
    return None


def _stimulus(
    condition: ConditionInput, index: int, image: ImageInfo, rng: random.Random, override: str = ""
) -> StimulusPlan:
    prototype = rng.choice(list(condition.prototypes_on(image)))
    crop = list(image.bbox) if condition.crops and image.bbox is not None else None
    return StimulusPlan(index, prototype, image.image_id, crop, override)


def _balance_notes(
    name: str,
    n: int,
    conditions: Sequence[ConditionInput],
    members: Sequence[int],
    fixed: bool = False,
) -> list[str]:
    k = len(members)
    if fixed:
        notes = [f"{name}: {n} images, each under one of {k} condition(s) = {n} stimuli"]
    else:
        notes = [f"{name}: {n} images x {k} condition(s) = {n * k} stimuli"]
    if n % k:
        notes.append(
            f"{name}: {n} images do not divide evenly among {k} conditions, so each participant "
            f"sees {n // k} or {n // k + 1} per condition; use a multiple of {k} for exact balance"
        )
    return notes


def _too_few(name: str, found: int, wanted: int) -> SpecProblem:
    return SpecProblem(
        "questions_per_dataset",
        f"dataset {name!r} has only {found} usable image(s) in the sampling split (images whose "
        f"class has a prototype in every condition), fewer than {wanted}; lower "
        "questions_per_dataset or sample another split",
    )


__all__ = [
    "ConditionInput",
    "DatasetInput",
    "DesignPlan",
    "ImageInfo",
    "LAYOUTS",
    "PrototypePicker",
    "QualityChecks",
    "QuestionPlan",
    "StimulusPlan",
    "gold_count",
    "gold_kinds",
    "plan_design",
]
