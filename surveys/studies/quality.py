"""The quality checks of a design: gold trials in every question set, and practice pictures.

Every set holds, on images no set shows otherwise:

* two map anchors, a synthetic map on the object (expected 5) and one on empty background
  (expected 1), reported with their pass rates and off the exclusion path unless the rules put
  them on it (whether a highlighted object reads as salient is the construct under study);
* the instructed-response items of :class:`QualityChecks`, Prolific's fair attention check:
  an explicit instruction in the question itself ("Please select 2 for this picture"), each
  item with its own answer; these are what the exclusion rule ``max_gold_failures`` counts;
* the test-retest repeats of :class:`QualityChecks`, each of another regular question of the
  set, reported as reliability and never used to exclude;
* further anchors, alternating, while the gold share asks for more.

The two practice pictures, synthetic maps near each end of the scale, go on two more spare
images: the instructions show them, so they preview neither a study image nor a method's map.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import QuestionKind
from surveys.studies.gold import Size, background_crop, background_spot

if TYPE_CHECKING:
    from surveys.studies.design import ConditionInput, DesignPlan, ImageInfo, StimulusPlan

ANCHORS = (QuestionKind.GOLD_OBJECT, QuestionKind.GOLD_BACKGROUND)
EXTRA_GOLD = ANCHORS
# Anchors expect the ends of the scale and pass within the analysis's gold_tolerance towards
# the middle (>= 4 and <= 2 with the default of 1: analysis.quality.gold_passed).
GOLD_EXPECTED: dict[str, int] = {QuestionKind.GOLD_OBJECT: 5, QuestionKind.GOLD_BACKGROUND: 1}
# Each instructed item asks for its own answer, so that one number learnt on the first does not
# pass the next; never 3, the middle, which a rater who does not look is likeliest to give.
INSTRUCTED_ANSWERS = (2, 4, 1, 5)
INSTRUCTION = "Please select {answer} for this picture."
MAP_OVERRIDES: dict[str, str] = {
    QuestionKind.GOLD_OBJECT: "object",
    QuestionKind.GOLD_BACKGROUND: "background",
}
# The practice pictures: near the top of the scale, then near the bottom.
PRACTICE_MAPS = ("object", "background")
MIN_REPEATS, MAX_REPEATS = 2, 4
MAX_INSTRUCTED = 10

MakeStimulus = Callable[[int, "ImageInfo", str], "StimulusPlan"]
"""``(condition index, image, map override)`` -> the condition's stimulus of that image."""


@dataclass(frozen=True)
class QualityChecks:
    """The checks in every question set (the spec's ``quality_checks``).

    Attributes:
        instructed_items: Instructed-response items; Prolific asks for two fair checks before
            a submission may be rejected for failing them.
        repeats: Test-retest repeats of regular questions (2 to 4).
    """

    instructed_items: int = 2
    repeats: int = MIN_REPEATS

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def required(self) -> list[str]:
        """The gold kinds every set holds: the two anchors, the items, then the repeats."""
        instructed = [QuestionKind.INSTRUCTED] * self.instructed_items
        return [*ANCHORS, *instructed, *[QuestionKind.REPEAT] * self.repeats]


def gold_count(regular: int, share: float, checks: QualityChecks | None = None) -> int:
    """Gold items per set: about ``share`` of it, and at least what the checks need."""
    if share <= 0 or regular == 0:
        return 0
    required = len((checks or QualityChecks()).required)
    return max(required, round(share * regular / (1 - share)))


def gold_kinds(count: int, checks: QualityChecks | None = None) -> list[str]:
    """The kinds of ``count`` gold items: the required ones, then alternating anchors."""
    required = (checks or QualityChecks()).required
    extra = [EXTRA_GOLD[i % len(EXTRA_GOLD)] for i in range(max(0, count - len(required)))]
    return [*required[:count], *extra]


def synthetic(
    stimulus: StimulusPlan, image: ImageInfo, size: Callable[[ImageInfo], Size]
) -> StimulusPlan:
    """A synthetic map's stimulus, cropped as its run crops: a background map of a run that
    crops to the object box is cropped to the background beside the box instead."""
    if stimulus.crop_box is None or stimulus.map_override != "background" or image.bbox is None:
        return stimulus
    spot = background_spot(size(image), image.bbox)
    if spot is None:
        return stimulus
    crop = list(background_crop(size(image), image.bbox, spot))
    return dataclasses.replace(stimulus, crop_box=crop)


def add_gold(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    by_dataset: Mapping[str, Sequence[int]],
    spares: Mapping[str, list[ImageInfo]],
    kinds: Sequence[str],
    make: MakeStimulus,
    sizes: Sequence[Callable[[ImageInfo], Size]],
    rng: random.Random,
) -> None:
    """Put the gold items of ``kinds`` into every set, the datasets taking turns.

    Raises:
        SpecError: A dataset has no spare image that suits an item.
    """
    names = list(by_dataset)
    shared = 0
    instructed = 0
    for position, kind in enumerate(kinds):
        which = position % len(names)
        if kind == QuestionKind.REPEAT:
            _repeats(plan, conditions, names[which], rng)
            continue
        members = by_dataset[names[which]]
        index = members[shared % len(members)]
        shared += 1
        left = _unused(plan, spares[names[which]])
        image = _gold_image(left, kind, conditions[index], sizes[which])
        if image is None:
            raise SpecError([_no_gold_image(names[which], kind)])
        spares[names[which]].remove(image)
        override = MAP_OVERRIDES.get(kind, "")
        stimulus = synthetic(make(index, image, override), image, sizes[which])
        if kind == QuestionKind.INSTRUCTED:
            answer = INSTRUCTED_ANSWERS[instructed % len(INSTRUCTED_ANSWERS)]
            instructed += 1
            question = plan.add(stimulus, kind, answer, INSTRUCTION.format(answer=answer))
        else:
            question = plan.add(stimulus, kind, GOLD_EXPECTED[kind])
        for cell in plan.sets:
            cell.append(question)


def add_practice(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    by_dataset: Mapping[str, Sequence[int]],
    spares: Mapping[str, list[ImageInfo]],
    make: MakeStimulus,
    size: Callable[[ImageInfo], Size],
) -> None:
    """The two practice pictures, on spare images of the first dataset (none when it has no
    two that suit them, with a note)."""
    name = next(iter(by_dataset))
    index = by_dataset[name][0]
    kinds = {"object": QuestionKind.GOLD_OBJECT, "background": QuestionKind.GOLD_BACKGROUND}
    chosen: list[tuple[ImageInfo, str]] = []
    for override in PRACTICE_MAPS:
        left = [
            image for image in _unused(plan, spares[name]) if image not in [c[0] for c in chosen]
        ]
        image = _gold_image(left, kinds[override], conditions[index], size)
        if image is None:
            plan.notes.append(
                f"{name}: no spare image suits a practice picture with a map on the {override}; "
                "the instructions show no practice pictures"
            )
            return
        chosen.append((image, override))
    for image, override in chosen:
        spares[name].remove(image)
        stimulus = synthetic(make(index, image, override), image, size)
        plan.stimuli.append(dataclasses.replace(stimulus, practice=True))
    plan.notes.append(f"{name}: two practice pictures for the instructions, near 5 and near 1")


def _unused(plan: DesignPlan, spares: Sequence[ImageInfo]) -> list[ImageInfo]:
    """The spares no stimulus shows yet: dataset labels that share a folder share its images,
    and one of them may show as a question what another holds as a spare."""
    used = {stimulus.image_id for stimulus in plan.stimuli}
    return [image for image in spares if image.image_id not in used]


def _gold_image(
    spares: Sequence[ImageInfo],
    kind: str,
    condition: ConditionInput,
    image_size: Callable[[ImageInfo], Size],
) -> ImageInfo | None:
    """The first spare image that suits the gold kind: any for an instructed item, one with an
    object box for the object map, and one with room beside the object for the background."""
    for image in spares:
        if not condition.prototypes_on(image):
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
    """One repeat per set, of a regular question of the set not repeated yet (sets differ, so
    do their repeats)."""
    for cell in plan.sets:
        repeated = {plan.questions[q].repeat_of for q in cell}
        originals = [
            q
            for q in cell
            if plan.questions[q].kind == QuestionKind.REGULAR
            and q not in repeated
            and conditions[plan.stimuli[plan.questions[q].stimulus].condition].dataset == name
        ]
        if not originals:
            plan.notes.append(f"{name}: a set has too few regular questions for every repeat")
            continue
        cell.append(plan.add_repeat(rng.choice(originals)))


__all__ = [
    "GOLD_EXPECTED",
    "INSTRUCTED_ANSWERS",
    "INSTRUCTION",
    "MAX_INSTRUCTED",
    "MAX_REPEATS",
    "MIN_REPEATS",
    "QualityChecks",
    "add_gold",
    "add_practice",
    "gold_count",
    "gold_kinds",
    "synthetic",
]
