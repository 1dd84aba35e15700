"""The study spec: what ``manage.py build_study study.yaml`` and the staff "new study" form
describe, checked field by field before anything is stored.

A spec names its conditions by catalogue runs (label, public code or run directory), one
rendering style for every condition, the sampling, the gold share, the texts, the pay and the
pre-declared exclusion rules, and the pre-registration (:mod:`.preregistration`) frozen when
the study opens. ``protocol: paper`` fills in the ProtoPool paper's study (:mod:`.presets`).
``configs/studies/example.yaml`` documents every field, ``configs/studies/paper.yaml`` the
paper's protocol and a full pre-registration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db.models import Q

from analysis import ExclusionRules
from protopool.rendering import StyleError, read_style_file, style_from_dict
from surveys.common.checks import Checker, SpecError, SpecProblem
from surveys.models import RecruiterKind, Run
from surveys.models.studies import PAPER_QUESTION
from surveys.recruiting.registry import RECRUITERS, RecruiterConfigError
from surveys.studies.design import LAYOUTS
from surveys.studies.preregistration import check_preregistration
from surveys.studies.presets import PAPER, PROTOCOLS, apply_protocol
from surveys.studies.quality import MAX_INSTRUCTED, MAX_REPEATS, MIN_REPEATS, QualityChecks

SPLITS = ("test", "train")
PUBLIC_TITLE = "Rate pictures of an AI system's attention"
# A spec may name any recruiter with an adapter installed (``registry.RECRUITERS``).
AVAILABLE_RECRUITERS = tuple(RECRUITERS)
MAX_GOLD_SHARE = 0.5
# Slugs that would shadow a fixed staff URL (``staff/studies/new/``).
RESERVED_SLUGS = ("new",)
TOP_LEVEL_FIELDS = (
    "slug",
    "title",
    "public_title",
    "conditions",
    "questions_per_dataset",
    "sampling",
    "style",
    "gold_share",
    "participants_wanted",
    "min_seconds_per_question",
    "texts",
    "reward",
    "currency",
    "bonus_cap",
    "estimated_minutes",
    "exclusion_rules",
    "recruiter",
    "recruiter_config",
    "protocol",
    "prototype_rule",
    "question_sets",
    "preregistration",
    "quality_checks",
    "min_prototypes_per_condition",
)
TEXT_FIELDS = ("consent", "instructions", "debrief", "question", "scale_low", "scale_high")
PROTOTYPE_RULES = ("random", "top_activated", "on_decision_path", "projection_source")
SCALE_LABELS = ("least salient", "most salient")


@dataclass(frozen=True)
class ConditionSpec:
    """One arm: a catalogue run shown under a method label participants never see."""

    run: Run
    label: str
    dataset: str
    # The overlay box of this condition: None keeps the study's style (the box as a condition).
    box: bool | None = None

    @property
    def box_code(self) -> str:
        """How :class:`surveys.models.Condition` stores ``box``."""
        return "" if self.box is None else ("on" if self.box else "off")


@dataclass(frozen=True)
class StudySpec:
    """A checked spec; every value is ready to be stored."""

    slug: str
    title: str
    public_title: str
    conditions: tuple[ConditionSpec, ...]
    questions_per_dataset: int
    seed: int
    split: str
    style: dict[str, Any]
    gold_share: float
    participants_wanted: int
    min_seconds_per_question: float
    consent: str
    instructions: str
    debrief: str
    question_text: str
    reward: Decimal
    currency: str
    estimated_minutes: int
    exclusion_rules: dict[str, Any]
    recruiter: str
    recruiter_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # The largest bonus one participant may get; None: the reward.
    bonus_cap: Decimal | None = None
    protocol: str = ""
    protocol_departures: tuple[str, ...] = ()
    prototype_rule: str = "random"
    question_sets: str = "latin_square"
    scale_low_label: str = SCALE_LABELS[0]
    scale_high_label: str = SCALE_LABELS[1]
    preregistration: dict[str, Any] = dataclasses.field(default_factory=dict)
    quality_checks: QualityChecks = QualityChecks()
    # At least this many distinct prototypes among each condition's regular stimuli (0: any),
    # so that a per-prototype analysis has prototypes to count (surveys.studies.coverage).
    min_prototypes_per_condition: int = 0

    @property
    def datasets(self) -> list[str]:
        """The dataset labels in the order their first condition appears."""
        return list(dict.fromkeys(condition.dataset for condition in self.conditions))


def read_study_spec(path: str | Path) -> StudySpec:
    """Read and check a spec file; relative style paths are taken from the file's folder.

    Raises:
        SpecError: A missing or unreadable file, or any invalid field.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError([SpecProblem(str(path), "no such file; see configs/studies/example.yaml")])
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(str(path), f"is not valid YAML: {exc}")]) from None
    return check_study_spec(data, base_dir=path.parent)


def check_study_spec(data: object, base_dir: Path | None = None) -> StudySpec:
    """Check a spec mapping and resolve its runs and style.

    Args:
        data: The spec, as parsed from YAML or built by the staff form.
        base_dir: Where relative style paths start (the spec file's folder), before the
            project's root.

    Raises:
        SpecError: Every invalid field, each with its fix.
    """
    if not isinstance(data, Mapping):
        raise SpecError([SpecProblem("spec", "must be a mapping of field: value")])
    data, departures = apply_protocol(data)
    check = Checker(data)
    notes: list[str] = []
    check.unknown_keys(TOP_LEVEL_FIELDS)
    protocol = check.choice("protocol", "", PROTOCOLS)
    sampling = check.nested("sampling")
    sampling.unknown_keys(("seed", "split"))
    texts = check.nested("texts")
    texts.unknown_keys(TEXT_FIELDS)
    recruiter = check.choice("recruiter", RecruiterKind.LINK.value, AVAILABLE_RECRUITERS)
    slug = check.slug("slug")
    if slug in RESERVED_SLUGS:
        check.fail("slug", f"{slug!r} is reserved for a staff page; pick another slug")
    conditions = _conditions(check)
    preregistration = check_preregistration(
        check.nested("preregistration"),
        list(dict.fromkeys(c.label for c in conditions)),
        data.get("participants_wanted"),
    )
    planned = (preregistration.get("sample_size") or {}).get("participants") or 40
    style = _style(check, base_dir, notes)
    if protocol == PAPER and style.get("box"):
        departures.append("style.box is True; the paper's overlays have no box")
    if protocol == PAPER:
        departures.extend(
            f"conditions[{i}].box is True; the paper's overlays have no box"
            for i, c in enumerate(conditions)
            if c.box
        )
    notes.extend(f"departs from the {protocol} protocol: {d}" for d in departures)
    spec = StudySpec(
        slug=slug,
        title=check.text("title", max_length=200),
        public_title=check.text("public_title", max_length=200, default=PUBLIC_TITLE),
        conditions=conditions,
        questions_per_dataset=check.integer("questions_per_dataset", 30, minimum=1),
        seed=sampling.integer("seed", 0, minimum=0),
        split=sampling.choice("split", "test", SPLITS),
        style=style,
        gold_share=check.number("gold_share", 0.1, low=0.0, high=MAX_GOLD_SHARE),
        participants_wanted=check.integer("participants_wanted", planned, minimum=1),
        min_seconds_per_question=check.number("min_seconds_per_question", 2.0, low=0.0),
        consent=texts.text("consent", max_length=20000),
        instructions=texts.text("instructions", max_length=20000),
        debrief=texts.text("debrief", max_length=20000),
        question_text=texts.text("question", max_length=300, default=PAPER_QUESTION),
        reward=check.money("reward", Decimal("0")),
        currency=_currency(check),
        estimated_minutes=check.integer("estimated_minutes", 10, minimum=1),
        exclusion_rules=_exclusion_rules(check.nested("exclusion_rules")),
        recruiter=recruiter,
        recruiter_config=_recruiter_config(check, recruiter),
        notes=tuple(notes),
        bonus_cap=_bonus_cap(check),
        protocol=protocol,
        protocol_departures=tuple(departures),
        prototype_rule=check.choice("prototype_rule", "random", PROTOTYPE_RULES),
        question_sets=check.choice("question_sets", "latin_square", LAYOUTS),
        scale_low_label=texts.text("scale_low", max_length=60, default=SCALE_LABELS[0]),
        scale_high_label=texts.text("scale_high", max_length=60, default=SCALE_LABELS[1]),
        preregistration=preregistration,
        quality_checks=_quality_checks(check.nested("quality_checks"), notes),
    )
    _warn_anchor_exclusion(spec.exclusion_rules, notes)
    spec = dataclasses.replace(spec, min_prototypes_per_condition=_min_prototypes(check, spec))
    spec = dataclasses.replace(spec, notes=tuple(notes))
    if check.problems:
        raise SpecError(check.problems)
    return spec


def _currency(check: Checker) -> str:
    value = check.data.get("currency", "USD")
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()):
        check.fail("currency", f"must be a 3-letter ISO code such as USD or GBP, got {value!r}")
        return "USD"
    return value


def _bonus_cap(check: Checker) -> Decimal | None:
    """The per-participant bonus cap, in the study's currency (None when left out: the reward).

    Every bonus line a recruiter is asked for is held to it, so a slip such as 5000 for 5.00
    is refused before anything is paid.
    """
    value = check.data.get("bonus_cap")
    if value is None:
        return None
    fix = (
        "give the largest bonus one participant may get, in the study's currency with at most "
        "2 decimals (e.g. 1.50; 0 allows no bonus), or leave bonus_cap out to cap bonuses at "
        "the reward"
    )
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise InvalidOperation
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        check.fail("bonus_cap", f"{value!r} is not an amount: {fix}")
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        check.fail("bonus_cap", f"{value!r} is not a non-negative amount: {fix}")
        return None
    if amount >= Decimal("1000000"):
        check.fail("bonus_cap", f"{amount} is too large (at most 999999.99): {fix}")
        return None
    return amount


def _conditions(check: Checker) -> tuple[ConditionSpec, ...]:
    raw = check.data.get("conditions")
    if not isinstance(raw, list) or not raw:
        check.fail("conditions", "list at least one condition: - {run: LABEL, label: METHOD}")
        return ()
    conditions: list[ConditionSpec] = []
    for position, item in enumerate(raw):
        if not isinstance(item, Mapping):
            check.fail(f"conditions[{position}]", "must be a mapping with run and label")
            continue
        one = Checker(item, f"conditions[{position}].", check.problems)
        one.unknown_keys(("run", "label", "dataset", "box"))
        run = _find_run(one, item.get("run"))
        label = one.text("label", max_length=200)
        dataset = one.text("dataset", max_length=200, default=run.dataset_name if run else "-")
        box = item.get("box")
        if box is not None and not isinstance(box, bool):
            one.fail(
                "box", f"must be true or false (or left out for the study's style), got {box!r}"
            )
            box = None
        if run is not None and label:
            conditions.append(ConditionSpec(run, label, dataset, box))
    _check_distinct(check, conditions)
    return tuple(conditions)


def _find_run(check: Checker, reference: object) -> Run | None:
    """The catalogue run a condition names by its label, its public code or its directory."""
    if not isinstance(reference, str) or not reference.strip():
        check.fail("run", "is required: a run's label, code or directory from the catalogue")
        return None
    reference = reference.strip()
    resolved = str(Path(reference).expanduser().resolve())
    found = list(
        Run.objects.filter(
            Q(label=reference) | Q(code=reference) | Q(run_dir=reference) | Q(run_dir=resolved)
        )[:3]
    )
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        codes = ", ".join(run.code for run in found)
        check.fail("run", f"{reference!r} matches several runs; name one by its code ({codes})")
        return None
    known = ", ".join(f"{run.label!r} ({run.code})" for run in Run.objects.all()[:8]) or "none"
    check.fail(
        "run",
        f"no catalogue run has the label, code or directory {reference!r}; import it first "
        f"(manage.py import_run RUN_DIR --label LABEL). Runs in the catalogue: {known}",
    )
    return None


def _check_distinct(check: Checker, conditions: list[ConditionSpec]) -> None:
    seen_runs: set[tuple[int, bool | None]] = set()
    seen_labels: set[tuple[str, str]] = set()
    for position, condition in enumerate(conditions):
        if (condition.run.pk, condition.box) in seen_runs:
            check.fail(
                f"conditions[{position}].run",
                f"run {condition.run.label!r} is already a condition; each run is one condition, "
                "or two with box: true and box: false (the box as a condition)",
            )
        if (condition.label, condition.dataset) in seen_labels:
            check.fail(
                f"conditions[{position}].label",
                f"{condition.label!r} is already a condition on {condition.dataset!r}; "
                "give each condition of a dataset its own label",
            )
        seen_runs.add((condition.run.pk, condition.box))
        seen_labels.add((condition.label, condition.dataset))


def _style(check: Checker, base_dir: Path | None, notes: list[str]) -> dict[str, Any]:
    """The one style of every condition, as a full mapping of its fields.

    ``pair`` only says how a stimulus is packed into files: the survey page lays out the
    original and the overlay itself, so it needs them as two files and a ``side_by_side`` style
    (the default style file's) is rendered ``separate``, every picture otherwise the same.
    """
    raw = check.data.get("style")
    try:
        mapping = _style_mapping(raw, base_dir)
        if mapping.get("pair", "separate") != "separate":
            notes.append(
                "style: pair side_by_side is rendered as separate files; the survey page "
                "shows the original and the overlay side by side itself"
            )
        mapping["pair"] = "separate"
        return style_from_dict(mapping).to_dict()
    except StyleError as exc:
        check.fail("style", f"{exc} (see configs/styles/study-default.yaml)")
        return {}


def _style_mapping(raw: object, base_dir: Path | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, str):
        raise StyleError("give a style file's path or a mapping of style fields")
    candidates = [Path(raw)] if Path(raw).is_absolute() else []
    candidates += [folder / raw for folder in (base_dir, Path(settings.BASE_DIR)) if folder]
    for candidate in candidates:
        if candidate.is_file():
            return read_style_file(candidate)
    raise StyleError(f"style file {raw!r} not found (looked in the spec's folder and the project)")


def _exclusion_rules(check: Checker) -> dict[str, Any]:
    """``analysis.ExclusionRules`` fields: numbers, or null to switch a rule off."""
    rule_fields = {f.name: str(f.type) for f in dataclasses.fields(ExclusionRules)}
    check.unknown_keys(tuple(rule_fields))
    values: dict[str, Any] = {}
    for name, annotation in rule_fields.items():
        if name not in check.data:
            continue
        value = check.data[name]
        if value is None and "None" in annotation:
            values[name] = None
        elif annotation.startswith("bool"):
            if not isinstance(value, bool):
                check.fail(name, f"must be true or false (or null to switch it off), got {value!r}")
            values[name] = value if isinstance(value, bool) else None
        elif annotation.startswith("int"):
            values[name] = check.integer(name, 0, minimum=0)
        else:
            high = 1.0 if name == "straightline_share" else None
            values[name] = check.number(name, 0.0, low=0.0, high=high)
    return ExclusionRules(**values).to_dict()


__all__ = [
    "ConditionSpec",
    "SpecError",
    "SpecProblem",
    "StudySpec",
    "check_study_spec",
    "read_study_spec",
]


def _quality_checks(check: Checker, notes: list[str]) -> QualityChecks:
    """The instructed-response items and test-retest repeats of every question set."""
    check.unknown_keys(tuple(f.name for f in dataclasses.fields(QualityChecks)))
    default = QualityChecks()
    instructed = check.integer("instructed_items", default.instructed_items, minimum=0)
    if instructed > MAX_INSTRUCTED:
        check.fail("instructed_items", f"must be at most {MAX_INSTRUCTED}, got {instructed}")
    repeats = check.integer("repeats", default.repeats, minimum=0)
    if not MIN_REPEATS <= repeats <= MAX_REPEATS:
        check.fail(
            "repeats",
            f"must be {MIN_REPEATS} to {MAX_REPEATS} test-retest repeats per set (enough pairs "
            f"for a reliability estimate, few enough not to bore), got {repeats}",
        )
    if instructed < 2:
        notes.append(
            f"quality_checks.instructed_items: {instructed}; Prolific asks for at least two fair "
            "attention checks before a submission may be rejected for failing them"
        )
    return QualityChecks(instructed_items=instructed, repeats=repeats)


def _warn_anchor_exclusion(rules: Mapping[str, Any], notes: list[str]) -> None:
    if rules.get("max_anchor_failures") is not None:
        notes.append(
            "exclusion_rules.max_anchor_failures puts the map anchors on the exclusion path: "
            "whether a map on the object reads as salient is what the study measures, so this "
            "selects raters by how they read the construct; leave it null to report the anchors' "
            "pass rates only"
        )


def _recruiter_config(check: Checker, recruiter: str) -> dict[str, Any]:
    """The recruiter's own settings (``recruiter_config``), checked by its adapter."""
    raw = check.data.get("recruiter_config", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        check.fail("recruiter_config", "must be a mapping of setting: value")
        return {}
    adapter = RECRUITERS.get(recruiter)
    if adapter is None:
        return {}
    try:
        return adapter.check_config(raw)
    except RecruiterConfigError as exc:
        check.fail("recruiter_config", str(exc))
        return {}


def _min_prototypes(check: Checker, spec: StudySpec) -> int:
    """``min_prototypes_per_condition``: a whole number (null or absent: no minimum), no more
    than the regular stimuli a condition has, each of which shows one prototype."""
    key = "min_prototypes_per_condition"
    if check.data.get(key) is None:
        return 0
    minimum = check.integer(key, 0, minimum=0)
    shown = spec.questions_per_dataset
    if spec.question_sets == "fixed":
        # One set for everyone: each image under one condition of its dataset.
        sizes = [sum(c.dataset == d for c in spec.conditions) for d in spec.datasets]
        shown = spec.questions_per_dataset // max(sizes, default=1)
    if minimum > shown:
        check.fail(
            key,
            f"asks for {minimum} distinct prototypes per condition, but a condition shows only "
            f"{shown} regular stimuli, one prototype each; lower it or raise "
            "questions_per_dataset",
        )
        return 0
    return minimum
