"""What a study's design looks like, read back from its rows: for the researcher's pages and the
build log (how balanced each dataset is, how many sets, which gold trials)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse

from surveys.models import (
    Condition,
    QuestionKind,
    QuestionSetItem,
    StimulusStatus,
    Study,
    StudyStatus,
)
from surveys.studies.progress import BuildProgress, build_progress

# Distinct render errors the study page lists.
MAX_FAILURE_ROWS = 5


@dataclass(frozen=True)
class ConditionRow:
    label: str
    run_label: str
    run_code: str
    dataset: str
    stimuli: int


@dataclass(frozen=True)
class DatasetRow:
    """A dataset's share of every set: N images over K conditions."""

    name: str
    images: int
    conditions: int

    @property
    def balanced(self) -> bool:
        return self.conditions > 0 and self.images % self.conditions == 0

    @property
    def per_condition(self) -> str:
        low = self.images // self.conditions if self.conditions else 0
        return str(low) if self.balanced else f"{low} or {low + 1}"


@dataclass(frozen=True)
class GoldRow:
    kind: str
    expected: int | None
    instruction: str
    questions: int


@dataclass(frozen=True)
class SetRow:
    index: int
    questions: int
    gold: int
    per_condition: list[tuple[str, int]]


@dataclass(frozen=True)
class FailureRow:
    condition: str
    stimuli: int
    error: str


@dataclass(frozen=True)
class StudySummary:
    """The detail page's content."""

    study: Study
    progress: BuildProgress
    conditions: list[ConditionRow]
    datasets: list[DatasetRow]
    gold: list[GoldRow]
    sets: list[SetRow]
    notes: list[str]
    participant_path: str | None
    failures: list[FailureRow]


def access_study(slug: str) -> Study:
    """The study with this slug, or 404."""
    return get_object_or_404(Study, slug=slug)


def access_studies() -> QuerySet[Study]:
    """Every study, newest first, with its counts for the list page."""
    return Study.objects.annotate(
        n_conditions=Count("conditions", distinct=True),
        n_participants=Count("participants", distinct=True),
        n_stimuli=Count("stimuli", distinct=True),
        n_done=Count("stimuli", filter=Q(stimuli__status=StimulusStatus.DONE), distinct=True),
        n_failed=Count("stimuli", filter=Q(stimuli__status=StimulusStatus.FAILED), distinct=True),
    ).order_by("-created_at", "-id")


def participant_path(study: Study) -> str | None:
    """The plain participant link of an open study (None until the entry page exists)."""
    if study.status != StudyStatus.OPEN:
        return None
    try:
        return reverse("surveys:participant_entry", args=[study.code])
    except NoReverseMatch:
        return None


def _conditions(study: Study) -> list[ConditionRow]:
    rows = (
        Condition.objects.filter(study=study)
        .select_related("run")
        .annotate(n=Count("stimuli"))
        .order_by("position", "id")
    )
    return [ConditionRow(c.label, c.run.label, c.run.code, c.dataset, c.n) for c in rows]


def _datasets(study: Study) -> list[DatasetRow]:
    images: dict[str, set[str]] = defaultdict(set)
    regular = study.questions.filter(kind=QuestionKind.REGULAR)
    for dataset, image in regular.values_list("stimulus__condition__dataset", "stimulus__image_id"):
        images[dataset].add(image)
    members = Counter(study.conditions.values_list("dataset", flat=True))
    return [DatasetRow(name, len(images[name]), members[name]) for name in members]


def _gold(study: Study) -> list[GoldRow]:
    rows = (
        study.questions.exclude(kind=QuestionKind.REGULAR)
        .values("kind", "gold_expected", "instruction")
        .annotate(n=Count("id"))
    )
    order = list(QuestionKind.values)
    return [
        GoldRow(QuestionKind(r["kind"]).label, r["gold_expected"], r["instruction"], r["n"])
        for r in sorted(rows, key=lambda r: order.index(r["kind"]))
    ]


def _sets(study: Study) -> list[SetRow]:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    gold: Counter[int] = Counter()
    items = QuestionSetItem.objects.filter(question_set__study=study).values_list(
        "question_set__index", "question__kind", "question__stimulus__condition__label"
    )
    for index, kind, label in items:
        if kind == QuestionKind.REGULAR:
            counts[index][label] += 1
        else:
            gold[index] += 1
    labels = list(study.conditions.order_by("position").values_list("label", flat=True))
    indexes = sorted(set(counts) | set(gold))
    return [
        SetRow(
            index,
            sum(counts[index].values()) + gold[index],
            gold[index],
            [(label, counts[index][label]) for label in dict.fromkeys(labels)],
        )
        for index in indexes
    ]


def _failures(study: Study) -> list[FailureRow]:
    rows = (
        study.stimuli.filter(status=StimulusStatus.FAILED)
        .values("condition__label", "error")
        .annotate(n=Count("id"))
        .order_by("-n", "condition__label")
    )
    return [FailureRow(r["condition__label"], r["n"], r["error"]) for r in rows[:MAX_FAILURE_ROWS]]


def design_notes(study: Study) -> list[str]:
    """The build log's lines about the stored design."""
    notes = []
    for row in _datasets(study):
        notes.append(f"{row.name}: {row.images} images x {row.conditions} condition(s)")
        if not row.balanced:
            notes.append(
                f"{row.name}: {row.images} images do not divide evenly among {row.conditions} "
                f"conditions, so each participant sees {row.per_condition} per condition"
            )
    sets = _sets(study)
    if sets:
        notes.append(
            f"{len(sets)} question set(s) balanced like a Latin square, each with "
            f"{sets[0].questions - sets[0].gold} regular and {sets[0].gold} gold question(s)"
        )
    return notes


def describe_study(study: Study) -> StudySummary:
    """Everything the study's page shows about its design and build."""
    return StudySummary(
        study=study,
        progress=build_progress(study),
        conditions=_conditions(study),
        datasets=_datasets(study),
        gold=_gold(study),
        sets=_sets(study),
        notes=design_notes(study),
        participant_path=participant_path(study),
        failures=_failures(study),
    )


__all__ = [
    "StudySummary",
    "access_studies",
    "access_study",
    "describe_study",
    "design_notes",
    "participant_path",
]
