"""Enough distinct prototypes per condition: the spec's ``min_prototypes_per_condition``.

The design draws each stimulus's prototype by its condition's prototype rule, image by image,
so a run whose classes share few prototypes, or a rule that keeps choosing the same one, may
show a handful of prototypes over many stimuli; an analysis per prototype (a prototype's own
consistency against its ratings, a prototype random effect) would then count a handful of units.

Once the design is drawn, a condition short of the minimum has stimuli re-drawn, seeded: a
stimulus whose prototype repeats within the condition takes another prototype that the rule
allows on its image and the condition shows nowhere yet, until the minimum is met. Images, crops
and questions stay where they are; only the prototype shown changes. When the rule offers no
more (the run has too few prototypes for the sampled images' classes, a model-based rule names
one prototype per image, or ``projection_source`` ties each prototype to its own image) the save
is refused with the number the catalogue could supply.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import QuestionKind
from surveys.studies.design import (
    ConditionInput,
    DatasetInput,
    DesignPlan,
    ImageInfo,
    StimulusPlan,
)

FIELD = "min_prototypes_per_condition"


def regular_stimuli(plan: DesignPlan, condition: int) -> list[int]:
    """Indices of the condition's stimuli that regular questions show, in plan order."""
    shown = {q.stimulus for q in plan.questions if q.kind == QuestionKind.REGULAR}
    return [i for i in sorted(shown) if plan.stimuli[i].condition == condition]


def do_cover_prototypes(
    plan: DesignPlan,
    conditions: Sequence[ConditionInput],
    datasets: Sequence[DatasetInput],
    minimum: int,
    seed: int,
) -> None:
    """Re-draw repeated prototypes until every condition shows ``minimum`` distinct ones.

    Changes ``plan`` in place and adds a note for each condition it changed.

    Raises:
        SpecError: A condition whose rule and run cannot supply ``minimum`` distinct prototypes
            on its images; nothing is changed then.
    """
    if minimum <= 0:
        return
    images = {i.image_id: i for d in datasets for i in [*d.images, *d.spares]}
    changed = list(plan.stimuli)
    problems: list[SpecProblem] = []
    notes: list[str] = []
    for index, condition in enumerate(conditions):
        members = regular_stimuli(plan, index)
        shown = Counter(changed[i].prototype for i in members)
        redrawn = 0
        rng = random.Random(f"{seed}:{index}")
        for i in rng.sample(members, len(members)):
            if len(shown) >= minimum:
                break
            current = changed[i].prototype
            options = _options(condition, images.get(changed[i].image_id), shown)
            if shown[current] < 2 or not options:
                continue
            new = rng.choice(options)
            shown[current] -= 1
            shown[new] += 1
            changed[i] = replace(changed[i], prototype=new)
            redrawn += 1
        if len(shown) < minimum:
            problems.append(_short(condition, members, changed, images, minimum, len(shown)))
        elif redrawn:
            notes.append(
                f"{condition.label}: {redrawn} stimuli re-drawn to show {len(shown)} distinct "
                f"prototypes ({FIELD} {minimum})"
            )
    if problems:
        raise SpecError(problems)
    plan.stimuli[:] = changed
    plan.notes.extend(notes)


def _options(condition: ConditionInput, image: ImageInfo | None, shown: Counter[int]) -> list[int]:
    """Prototypes the rule allows on the image that the condition shows nowhere yet."""
    if image is None or condition.from_sources:
        return []
    return sorted(p for p in set(condition.prototypes_on(image)) if shown[p] == 0)


def _short(
    condition: ConditionInput,
    members: Sequence[int],
    stimuli: Sequence[StimulusPlan],
    images: dict[str, ImageInfo],
    minimum: int,
    found: int,
) -> SpecProblem:
    supply: set[int] = set()
    for i in members:
        image = images.get(stimuli[i].image_id)
        if image is not None and not condition.from_sources:
            supply.update(condition.prototypes_on(image))
    offered = f"; its run offers {len(supply)} for those images' classes" if supply else ""
    return SpecProblem(
        FIELD,
        f"condition {condition.label!r} can show only {found} distinct prototypes on its "
        f"{len(members)} images under its prototype rule{offered}, fewer than {minimum}: lower "
        f"{FIELD}, raise questions_per_dataset, or use a run with more prototypes",
    )


__all__ = ["FIELD", "do_cover_prototypes", "regular_stimuli"]
