"""The design of a study, worked out on plain data before any row is written.

Per dataset, N images are drawn (seeded) from the sampling split; with K conditions on that
dataset every image gets one stimulus per condition, showing a prototype the condition's run
uses for the image's class. The question sets are Latin-square cells: cell ``c`` shows image
``i`` under condition ``(i + c) mod K``, so each participant sees every image once and every
condition equally often (within one, when K does not divide N). With datasets of different K,
there are ``lcm`` of the K cells. Gold trials (a map on the object, a map on empty background,
an instructed item and a repeat for test-retest) go into every cell, on images no cell shows
otherwise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import QuestionKind
from surveys.studies.gold import BBox, Size, background_spot

# The four kinds every study with gold trials has at least once; further gold items alternate
# between the two map checks.
REQUIRED_GOLD = (
    QuestionKind.GOLD_OBJECT,
    QuestionKind.GOLD_BACKGROUND,
    QuestionKind.INSTRUCTED,
    QuestionKind.REPEAT,
)
EXTRA_GOLD = (QuestionKind.GOLD_OBJECT, QuestionKind.GOLD_BACKGROUND)
# Expected answers: a highlighted object reads as salient (>= 4 passes with the analysis's
# default tolerance of 1), empty background as not (<= 2); the instructed item asks for 2.
GOLD_EXPECTED: dict[str, int] = {
    QuestionKind.GOLD_OBJECT: 5,
    QuestionKind.GOLD_BACKGROUND: 1,
    QuestionKind.INSTRUCTED: 2,
}
INSTRUCTED_ANSWER = 2
# Prolific's rule for a fair attention check: an explicit instruction in the question itself.
INSTRUCTION = f"Attention check: for this picture, please answer {INSTRUCTED_ANSWER}."
MAP_OVERRIDES: dict[str, str] = {
    QuestionKind.GOLD_OBJECT: "object",
    QuestionKind.GOLD_BACKGROUND: "background",
}


@dataclass(frozen=True)
class ImageInfo:
    """An image of a dataset: its path below the dataset folder, class and object box."""

    image_id: str
    label: int
    bbox: BBox | None = None


@dataclass(frozen=True)
class ConditionInput:
    """What the design needs of a condition: its dataset and prototypes by class.

    Attributes:
        label: The method label (for the notes).
        dataset: The dataset label.
        candidates: Prototype ids (catalogue keys) the run uses for each class label.
        fallback: Prototypes for a class without its own (a ProtoTree's root, on every path).
        crops: Whether the run crops images to their object box.
    """

    label: str
    dataset: str
    candidates: Mapping[int, Sequence[int]]
    fallback: Sequence[int] = ()
    crops: bool = False

    def prototypes_for(self, label: int) -> Sequence[int]:
        return self.candidates.get(label) or self.fallback


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


def gold_count(regular: int, share: float) -> int:
    """Gold items per set so that they are about ``share`` of it (at least one of each kind)."""
    if share <= 0 or regular == 0:
        return 0
    return max(len(REQUIRED_GOLD), round(share * regular / (1 - share)))


def gold_kinds(count: int) -> list[str]:
    extra = [EXTRA_GOLD[i % len(EXTRA_GOLD)] for i in range(max(0, count - len(REQUIRED_GOLD)))]
    return [*REQUIRED_GOLD[:count], *extra]


def plan_design(
    conditions: Sequence[ConditionInput],
    datasets: Sequence[DatasetInput],
    questions_per_dataset: int,
    gold_share: float,
    seed: int,
    image_size: Callable[[str, ImageInfo], Size],
) -> DesignPlan:
    """Work out the whole design.

    Args:
        conditions: The study's conditions, in order.
        datasets: One entry per dataset label the conditions use.
        questions_per_dataset: N, the images drawn per dataset.
        gold_share: About this share of each set is gold.
        seed: The sampling seed: the same inputs and seed give the same design.
        image_size: Reads the size of a dataset's image (to place the background gold map).

    Raises:
        SpecError: Too few images, or none fit for a gold trial; the message says what to change.
    """
    rng = random.Random(seed)
    plan = DesignPlan()
    problems: list[SpecProblem] = []
    by_dataset = {
        d.name: [i for i, c in enumerate(conditions) if c.dataset == d.name] for d in datasets
    }
    cells = math.lcm(*(len(members) for members in by_dataset.values()))
    plan.sets = [[] for _ in range(cells)]
    spares: dict[str, list[ImageInfo]] = {}
    for dataset in datasets:
        members = by_dataset[dataset.name]
        chosen, rest = _sample(
            dataset, [conditions[i] for i in members], questions_per_dataset, rng
        )
        if len(chosen) < questions_per_dataset:
            problems.append(_too_few(dataset.name, len(chosen), questions_per_dataset))
            continue
        _regular(plan, conditions, members, chosen, rng)
        spares[dataset.name] = rest
        plan.notes.extend(_balance_notes(dataset.name, questions_per_dataset, conditions, members))
    if problems:
        raise SpecError(problems)
    regular = sum(len(cell) for cell in plan.sets[:1])
    _gold(plan, conditions, by_dataset, spares, gold_count(regular, gold_share), rng, image_size)
    plan.notes.append(
        f"{cells} question set(s) balanced like a Latin square, each with {regular} regular "
        f"and {len(plan.sets[0]) - regular} gold question(s)"
    )
    return plan


def _eligible(image: ImageInfo, members: Sequence[ConditionInput]) -> bool:
    return all(condition.prototypes_for(image.label) for condition in members)


def _sample(
    dataset: DatasetInput, members: Sequence[ConditionInput], n: int, rng: random.Random
) -> tuple[list[ImageInfo], list[ImageInfo]]:
    """N eligible images in a seeded order, and the unused ones (then the spares) for gold."""
    pool = sorted((i for i in dataset.images if _eligible(i, members)), key=lambda i: i.image_id)
    rng.shuffle(pool)
    spares = sorted(dataset.spares, key=lambda i: i.image_id)
    rng.shuffle(spares)
    return pool[:n], pool[n:] + spares


def _regular(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    members: Sequence[int],
    chosen: Sequence[ImageInfo],
    rng: random.Random,
) -> None:
    k = len(members)
    for i, image in enumerate(chosen):
        questions = [plan.add(_stimulus(conditions[index], index, image, rng)) for index in members]
        for c, cell in enumerate(plan.sets):
            cell.append(questions[(i + c) % k])


def _stimulus(
    condition: ConditionInput, index: int, image: ImageInfo, rng: random.Random, override: str = ""
) -> StimulusPlan:
    prototype = rng.choice(list(condition.prototypes_for(image.label)))
    crop = list(image.bbox) if condition.crops and image.bbox is not None else None
    return StimulusPlan(index, prototype, image.image_id, crop, override)


def _balance_notes(
    name: str, n: int, conditions: Sequence[ConditionInput], members: Sequence[int]
) -> list[str]:
    k = len(members)
    notes = [f"{name}: {n} images x {k} condition(s) = {n * k} stimuli"]
    if n % k:
        notes.append(
            f"{name}: {n} images do not divide evenly among {k} conditions, so each participant "
            f"sees {n // k} or {n // k + 1} per condition; use a multiple of {k} for exact balance"
        )
    for index in members:
        condition = conditions[index]
        if condition.fallback and any(not v for v in condition.candidates.values()):
            notes.append(
                f"{name}/{condition.label}: classes without a prototype of their own are shown "
                "the tree's root prototype, which lies on every image's path"
            )
    return notes


def _too_few(name: str, found: int, wanted: int) -> SpecProblem:
    return SpecProblem(
        "questions_per_dataset",
        f"dataset {name!r} has only {found} usable image(s) in the sampling split (images whose "
        f"class has a prototype in every condition), fewer than {wanted}; lower "
        "questions_per_dataset or sample another split",
    )


def _gold(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    by_dataset: Mapping[str, Sequence[int]],
    spares: Mapping[str, list[ImageInfo]],
    count: int,
    rng: random.Random,
    image_size: Callable[[str, ImageInfo], Size],
) -> None:
    names = list(by_dataset)
    shared = 0
    for position, kind in enumerate(gold_kinds(count)):
        name = names[position % len(names)]
        if kind == QuestionKind.REPEAT:
            _repeats(plan, conditions, name, rng)
            continue
        members = by_dataset[name]
        index = members[shared % len(members)]
        shared += 1
        image = _gold_image(spares[name], kind, conditions[index], partial(image_size, name))
        if image is None:
            raise SpecError([_no_gold_image(name, kind)])
        spares[name].remove(image)
        stimulus = _stimulus(conditions[index], index, image, rng, MAP_OVERRIDES.get(kind, ""))
        instruction = INSTRUCTION if kind == QuestionKind.INSTRUCTED else ""
        question = plan.add(stimulus, kind, GOLD_EXPECTED[kind], instruction)
        for cell in plan.sets:
            cell.append(question)


def _gold_image(
    spares: Sequence[ImageInfo],
    kind: str,
    condition: ConditionInput,
    image_size: Callable[[ImageInfo], Size],
) -> ImageInfo | None:
    """The first spare image that suits the gold kind: any for the instructed item, one with an
    object box for the object map, and one with room beside the object for the background."""
    for image in spares:
        if not condition.prototypes_for(image.label):
            continue
        if kind == QuestionKind.INSTRUCTED:
            return image
        if image.bbox is None:
            continue
        if kind == QuestionKind.GOLD_OBJECT or background_spot(image_size(image), image.bbox):
            return image
    return None


def _no_gold_image(name: str, kind: str) -> SpecProblem:
    needs: dict[str, str] = {
        QuestionKind.GOLD_OBJECT: "an object box (bounding_boxes.txt)",
        QuestionKind.GOLD_BACKGROUND: "an object box with empty background in a corner",
    }
    need = needs.get(kind, "an image")
    return SpecProblem(
        "gold_share",
        f"dataset {name!r} has no image left for the {QuestionKind(kind).label!r} trial (it "
        f"needs {need} not used by a regular question); lower questions_per_dataset, or set "
        "gold_share: 0 for a study without gold trials",
    )


def _repeats(
    plan: DesignPlan, conditions: Sequence[ConditionInput], name: str, rng: random.Random
) -> None:
    """One repeat per cell, of a regular question of that cell (cells differ, so do repeats)."""
    for cell in plan.sets:
        originals = [
            q
            for q in cell
            if plan.questions[q].kind == QuestionKind.REGULAR
            and conditions[plan.stimuli[plan.questions[q].stimulus].condition].dataset == name
        ]
        original = rng.choice(originals)
        stimulus = plan.questions[original].stimulus
        plan.questions.append(QuestionPlan(stimulus, QuestionKind.REPEAT, None, "", original))
        cell.append(len(plan.questions) - 1)


__all__ = [
    "ConditionInput",
    "DatasetInput",
    "DesignPlan",
    "ImageInfo",
    "QuestionPlan",
    "StimulusPlan",
    "gold_count",
    "gold_kinds",
    "plan_design",
]
