"""What the catalogue's staff pages show: runs, classes, prototypes and a name's evidence.

Each ``access_*`` function fetches one thing by its public code (and index), raising
:class:`NotInCatalogue` with a message a researcher can act on; the views turn that into a 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from surveys.catalogue.names import UNNAMED_KIND
from surveys.models import NameReview, ProposedName, Prototype, Run, RunClass

# Evidence rows shown per prototype: the strongest parts and attribute values.
TOP_PARTS = 6
TOP_VALUES = 3
MAX_INDEX = 2**31 - 1


class NotInCatalogue(LookupError):
    """No such run, class or prototype; the message says which and where to look."""


@dataclass(frozen=True)
class ClassChip:
    """A class as a link in a list: its index, a short label, and its full name."""

    index: int
    label: str
    name: str

    @classmethod
    def of(cls, run_class: RunClass) -> ClassChip:
        return cls(run_class.index, short_class_name(run_class.name), run_class.name)


@dataclass(frozen=True)
class PrototypeCard:
    """A prototype as lists show it: its name in force and the classes that use it."""

    prototype: Prototype
    name: str | None
    decision: str
    classes: list[ClassChip]

    @property
    def proposed(self) -> ProposedName | None:
        return getattr(self.prototype, "proposed_name", None)


@dataclass(frozen=True)
class Evidence:
    """What a proposed name rests on, ready to show.

    Attributes:
        confidence: The namer's confidence.
        purity: Purity of the named (or purest) part.
        parts: ``(part, purity)``, purest first.
        groups: ``(attribute group, [(value, frequency)])``, most frequent first.
        claimed: The attribute values the name claims.
        images: Top images the namer looked at (dataset ids).
        hit_images: Those whose region holds the named part.
    """

    confidence: float | None = None
    purity: float | None = None
    parts: list[tuple[str, float]] = field(default_factory=list)
    groups: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)
    claimed: list[dict[str, Any]] = field(default_factory=list)
    images: int = 0
    hit_images: int = 0


@dataclass(frozen=True)
class ClassComparison:
    """Two classes of a run: the prototypes they share and those that set them apart."""

    first: RunClass
    second: RunClass
    shared: list[PrototypeCard]
    only_first: list[PrototypeCard]
    only_second: list[PrototypeCard]


def short_class_name(name: str) -> str:
    """``001.Black_footed_Albatross`` as "Black footed Albatross" (narrow cards wrap it at
    spaces); the full name stays in the link's title."""
    return re.sub(r"^\d+\.", "", name).replace("_", " ").strip() or name


def runs_with_counts() -> QuerySet[Run]:
    """Every run, with ``prototype_count`` and ``reviewed_count`` (prototypes with a review)."""
    reviewed = Q(prototypes__reviews__isnull=False)
    return Run.objects.annotate(
        prototype_count=Count("prototypes", distinct=True),
        reviewed_count=Count("prototypes", filter=reviewed, distinct=True),
    ).order_by("label", "id")


def access_run(code: str) -> Run:
    run = Run.objects.filter(code=code).first()
    if run is None:
        raise NotInCatalogue(f"no run with code {code!r}: pick one from the list of runs")
    return run


def access_run_class(run: Run, index: int) -> RunClass:
    found = RunClass.objects.filter(run=run, index=index).first() if _fits(index) else None
    if found is None:
        raise NotInCatalogue(
            f"run {run.label!r} has no class {index}: its classes are 0 to {run.num_classes - 1}"
        )
    return found


def access_prototype(code: str, index: int) -> Prototype:
    run = access_run(code)
    prototype = (
        Prototype.objects.filter(run=run, index=index if _fits(index) else -1)
        .select_related("run", "proposed_name")
        .prefetch_related("classes", "top_images")
        .first()
    )
    if prototype is None:
        raise NotInCatalogue(
            f"run {run.label!r} has no prototype {index}: its prototypes are 0 to "
            f"{run.num_prototypes - 1}"
        )
    return prototype


def classes_with_counts(run: Run) -> QuerySet[RunClass]:
    return RunClass.objects.filter(run=run).annotate(prototype_count=Count("prototypes"))


def with_card_data(prototypes: QuerySet[Prototype]) -> QuerySet[Prototype]:
    """The prototypes with what their cards show, fetched in three queries in all."""
    newest_first = NameReview.objects.order_by("-reviewed_at", "-id")
    return prototypes.select_related("proposed_name", "run").prefetch_related(
        "classes", Prefetch("reviews", queryset=newest_first)
    )


def prototype_cards(prototypes: Iterable[Prototype]) -> list[PrototypeCard]:
    """Cards of prototypes fetched through :func:`with_card_data`."""
    cards = []
    for prototype in prototypes:
        reviews = list(prototype.reviews.all())
        proposed = getattr(prototype, "proposed_name", None)
        name: str | None = None
        decision = ""
        if reviews:
            name, decision = reviews[0].name or None, str(reviews[0].decision)
        elif proposed is not None and proposed.kind != UNNAMED_KIND:
            name = proposed.name
        chips = [ClassChip.of(c) for c in prototype.classes.all()]
        cards.append(PrototypeCard(prototype, name, decision, chips))
    return cards


def class_prototypes(run_class: RunClass) -> list[PrototypeCard]:
    return prototype_cards(
        with_card_data(Prototype.objects.filter(classes=run_class).order_by("index"))
    )


def compare_classes(first: RunClass, second: RunClass) -> ClassComparison:
    """Shared and distinguishing prototypes of two classes of one run (from the rows that
    import wrote: a ProtoPool's slots, a ProtoTree's leaves)."""
    mine = set(first.prototypes.values_list("pk", flat=True))
    theirs = set(second.prototypes.values_list("pk", flat=True))
    either = Prototype.objects.filter(pk__in=mine | theirs).order_by("index")
    cards = prototype_cards(with_card_data(either))

    def having(keep: set[int]) -> list[PrototypeCard]:
        return [card for card in cards if card.prototype.pk in keep]

    return ClassComparison(
        first, second, having(mine & theirs), having(mine - theirs), having(theirs - mine)
    )


def review_history(prototype: Prototype) -> QuerySet[NameReview]:
    return prototype.reviews.select_related("reviewer").order_by("-reviewed_at", "-id")


def evidence_of(proposed: ProposedName | None) -> Evidence:
    """A proposed name's evidence (names.json's), strongest first; empty when none."""
    if proposed is None:
        return Evidence()
    raw = proposed.evidence if isinstance(proposed.evidence, dict) else {}
    parts = sorted(
        ((str(p), float(v)) for p, v in _mapping(raw.get("part_purity")).items() if _num(v)),
        key=lambda item: -item[1],
    )
    groups = []
    for group, values in sorted(_mapping(raw.get("group_frequencies")).items()):
        ranked = sorted(
            ((str(v), float(f)) for v, f in _mapping(values).items() if _num(f)),
            key=lambda item: -item[1],
        )
        if ranked:
            groups.append((str(group), ranked[:TOP_VALUES]))
    return Evidence(
        confidence=proposed.confidence,
        purity=proposed.purity,
        parts=parts[:TOP_PARTS],
        groups=groups,
        claimed=[a for a in proposed.attributes if isinstance(a, dict)],
        images=len(raw.get("images") or []),
        hit_images=len(raw.get("hit_images") or []),
    )


def _fits(index: int) -> bool:
    """Whether an index from a URL fits the column (SQLite cannot even compare a larger one)."""
    return 0 <= index <= MAX_INDEX


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = [
    "MAX_INDEX",
    "ClassChip",
    "ClassComparison",
    "Evidence",
    "NotInCatalogue",
    "PrototypeCard",
    "access_prototype",
    "access_run",
    "access_run_class",
    "class_prototypes",
    "classes_with_counts",
    "compare_classes",
    "evidence_of",
    "prototype_cards",
    "review_history",
    "runs_with_counts",
    "short_class_name",
    "with_card_data",
]
