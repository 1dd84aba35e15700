"""The researcher's desk: where a running study stands, computed from the live database.

Everything here reads; nothing writes. The numbers come from the participant and response
rows, the exclusions from ``analysis.apply_exclusions`` under the study's pre-declared rules
(exactly what the exported report will apply), and the chart is ``analysis``' Figure 10 drawn
on the answers those rules keep.

The desk is blind while data collection is open (:func:`surveys.studies.protocol.is_blind`):
it shows data-quality figures only (counts per set, times, gold and attention pass rates,
test-retest agreement, exclusions), never outcomes by condition (mean scores, Figure 10), until
the study is closed or the researcher unblinds it, which is recorded and reported as a
deviation. Peeking at outcomes while deciding when to stop inflates false positives.
"""

from __future__ import annotations

import io
import math
import statistics
from dataclasses import dataclass, field, replace

import pandas as pd
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404

from analysis import ExclusionRules, bootstrap_means, plot_score_distribution
from analysis.quality import gold_pass_rates
from analysis.reliability import retest_reliability
from surveys.models import Condition, Participant, ParticipantStatus, QuestionSet, Study
from surveys.participation.verification import verified_filter
from surveys.results.exclusions import (
    RulesError,
    apply_study_rules,
    check_exclusion_rules,
)
from surveys.results.responses import responses_frame
from surveys.studies.progress import BuildProgress, build_progress
from surveys.studies.protocol import is_blind

FIGURE_DPI = 110
ACTIVE = (ParticipantStatus.STARTED, ParticipantStatus.CONSENTED)


@dataclass(frozen=True)
class ParticipantCounts:
    """Participants by where they are; ``started`` counts everyone who entered.

    ``unverified`` counts those whose recruiter has not vouched for them (no Prolific
    submission or MTurk assignment matched to them yet): they do not count toward "full", and
    the report's default rules exclude them.
    """

    started: int
    consented: int
    completed: int
    excluded: int
    declined: int
    returned: int
    in_progress: int
    unverified: int = 0


@dataclass(frozen=True)
class ConditionRow:
    label: str
    dataset: str
    run_label: str
    questions: int
    answers: int
    gold_answers: int
    participants: int
    mean_score: float | None


@dataclass(frozen=True)
class CellRow:
    """One balanced question set and the participants allocated to it."""

    index: int
    questions: int
    participants: int
    completed: int
    in_progress: int


@dataclass(frozen=True)
class ExclusionRow:
    rule: str
    description: str
    participants_removed: int
    answers_removed: int
    answers_left: int


@dataclass(frozen=True)
class GoldRow:
    """One kind of gold or attention item: how its scored answers fared."""

    kind: str
    answers: int
    passed: int
    pass_rate: float | None

    @property
    def failed(self) -> int:
        return self.answers - self.passed


@dataclass(frozen=True)
class ReliabilityRow:
    """One test-retest measure of the repeated questions (``analysis.retest_reliability``)."""

    measure: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    pairs: int


@dataclass(frozen=True)
class DeskStatus:
    """Everything the desk shows about one study."""

    study: Study
    participants: ParticipantCounts
    answers: int
    gold_answers: int
    conditions: list[ConditionRow]
    cells: list[CellRow]
    median_completion_seconds: float | None
    median_client_rt_ms: float | None
    median_server_rt_ms: float | None
    build: BuildProgress
    rules: dict[str, object] = field(default_factory=dict)
    rules_error: str = ""
    exclusions: list[ExclusionRow] = field(default_factory=list)
    exclusions_note: str = ""
    answers_analysed: int = 0
    blind: bool = False
    gold_rates: list[GoldRow] = field(default_factory=list)
    reliability: list[ReliabilityRow] = field(default_factory=list)

    @property
    def median_completion_minutes(self) -> float | None:
        seconds = self.median_completion_seconds
        return None if seconds is None else seconds / 60


def access_desk_study(slug: str) -> Study:
    """The study whose desk is asked for (404 when there is none); the view is staff-gated."""
    return get_object_or_404(Study, slug=slug)


def participant_counts(study: Study) -> ParticipantCounts:
    totals = Participant.objects.filter(study=study).aggregate(
        started=Count("id"),
        consented=Count("id", filter=Q(consented_at__isnull=False)),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
        excluded=Count("id", filter=Q(status=ParticipantStatus.EXCLUDED)),
        declined=Count("id", filter=Q(status=ParticipantStatus.DECLINED)),
        returned=Count("id", filter=Q(status=ParticipantStatus.RETURNED)),
        in_progress=Count("id", filter=Q(status__in=ACTIVE)),
        unverified=Count("id", filter=~verified_filter()),
    )
    return ParticipantCounts(**totals)


def median_completion_seconds(study: Study) -> float | None:
    """Median time from entering to completing, over the participants who completed."""
    spans = Participant.objects.filter(study=study, completed_at__isnull=False).values_list(
        "started_at", "completed_at"
    )
    seconds = [(done - start).total_seconds() for start, done in spans if start and done]
    return statistics.median(seconds) if seconds else None


def condition_rows(study: Study, frame: pd.DataFrame, blind: bool = False) -> list[ConditionRow]:
    """Per condition: its questions, answers, gold answers, participants and mean score (None
    while the desk is blind)."""
    conditions = (
        Condition.objects.filter(study=study)
        .select_related("run")
        .annotate(n_questions=Count("stimuli__questions"))
        .order_by("position", "id")
    )
    rows = []
    for condition in conditions:
        mine = frame[frame["method"] == condition.label] if not frame.empty else frame
        regular = mine[~mine["is_gold"]] if not mine.empty else mine
        rows.append(
            ConditionRow(
                label=condition.label,
                dataset=condition.dataset,
                run_label=condition.run.label,
                questions=condition.n_questions,
                answers=len(mine),
                gold_answers=int(mine["is_gold"].sum()) if not mine.empty else 0,
                participants=int(mine["participant"].nunique()) if not mine.empty else 0,
                mean_score=(
                    float(regular["score"].mean()) if not (blind or regular.empty) else None
                ),
            )
        )
    return rows


def cell_rows(study: Study) -> list[CellRow]:
    """Per question set: its questions and the participants allocated to it."""
    cells = (
        QuestionSet.objects.filter(study=study)
        .annotate(
            n_questions=Count("items", distinct=True),
            n_participants=Count("participants", distinct=True),
            n_completed=Count(
                "participants",
                filter=Q(participants__completed_at__isnull=False),
                distinct=True,
            ),
            n_active=Count(
                "participants", filter=Q(participants__status__in=ACTIVE), distinct=True
            ),
        )
        .order_by("index")
    )
    return [
        CellRow(c.index, c.n_questions, c.n_participants, c.n_completed, c.n_active) for c in cells
    ]


def _median(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty or frame[column].isna().all():
        return None
    return float(frame[column].median())


def gold_rows(frame: pd.DataFrame, tolerance: float) -> list[GoldRow]:
    """Pass rates per gold kind (instructed items, anchors, repeats), as the report states them."""
    if frame.empty:
        return []
    table = gold_pass_rates(frame, tolerance)
    return [
        GoldRow(
            str(row["kind"]),
            int(row["trials"]),
            int(row["passed"]),
            None if pd.isna(row["pass_rate"]) else float(row["pass_rate"]),
        )
        for row in table.to_dict("records")
    ]


def _number(value: object) -> float | None:
    number = float(value) if isinstance(value, int | float) else float("nan")
    return None if math.isnan(number) else number


def reliability_rows(frame: pd.DataFrame) -> list[ReliabilityRow]:
    """Weighted kappa and ICC(A,1) of the repeats against the participants' first answers."""
    if frame.empty:
        return []
    table = retest_reliability(frame)
    return [
        ReliabilityRow(
            str(row["measure"]),
            _number(row["value"]),
            _number(row["ci_low"]),
            _number(row["ci_high"]),
            int(row["n_pairs"]),
        )
        for row in table.to_dict("records")
    ]


def _tolerance(study: Study) -> float:
    try:
        return check_exclusion_rules(study).gold_tolerance
    except RulesError:
        return ExclusionRules().gold_tolerance


def study_status(study: Study) -> DeskStatus:
    """Where the study stands: participants, answers, build, exclusions (a dozen queries)."""
    frame = responses_frame(study)
    blind = is_blind(study)
    status = DeskStatus(
        study=study,
        participants=participant_counts(study),
        answers=len(frame),
        gold_answers=int(frame["is_gold"].sum()) if not frame.empty else 0,
        conditions=condition_rows(study, frame, blind),
        cells=cell_rows(study),
        median_completion_seconds=median_completion_seconds(study),
        median_client_rt_ms=_median(frame, "rt_ms"),
        median_server_rt_ms=_median(frame, "server_rt_ms"),
        build=build_progress(study),
        rules=dict(study.exclusion_rules or {}),
        blind=blind,
        gold_rates=gold_rows(frame, _tolerance(study)),
        reliability=reliability_rows(frame),
    )
    try:
        rules = check_exclusion_rules(study)
    except RulesError as err:
        regular = int((~frame["is_gold"]).sum()) if not frame.empty else 0
        return replace(status, rules_error=str(err), answers_analysed=regular)
    outcome = apply_study_rules(frame, rules)
    rows = [ExclusionRow(*row) for row in outcome.log.itertuples(index=False)]
    return replace(
        status,
        rules=rules.to_dict(),
        exclusions=rows,
        exclusions_note=outcome.note,
        answers_analysed=len(outcome.kept),
    )


def analysed_answers(study: Study) -> pd.DataFrame:
    """The answers the analysis will use: the study's rules applied, gold trials removed.

    When the declared rules cannot be read, every non-gold answer is used (the desk shows the
    rules' error beside the chart).
    """
    frame = responses_frame(study)
    try:
        rules = check_exclusion_rules(study)
    except RulesError:
        rules = ExclusionRules(
            max_gold_failures=None, straightline_share=None, min_median_rt_ms=None
        )
    return apply_study_rules(frame, rules).kept


class BlindError(ValueError):
    """Outcomes were asked for while the desk is blind; the message says how to see them."""


BLIND_MESSAGE = (
    "Data collection is open and the desk is blind: outcomes by condition stay hidden until "
    "the study is closed, or until you unblind the desk (recorded, and reported as a "
    "deviation from the plan)."
)


def check_not_blind(study: Study) -> None:
    """Refuse outcomes while the desk is blind.

    Raises:
        BlindError: Data collection is open and the desk was not unblinded.
    """
    if is_blind(study):
        raise BlindError(BLIND_MESSAGE)


def figure_png(study: Study) -> bytes | None:
    """Figure 10 (score distributions per condition) as PNG bytes; None with nothing to draw.

    Raises:
        BlindError: The desk is blind (data collection open, not unblinded).
    """
    check_not_blind(study)
    kept = analysed_answers(study)
    if kept.empty:
        return None
    # The same seed and scale labels as the exported report, so the two figures agree.
    means = bootstrap_means(kept, seed=study.seed)
    axes = plot_score_distribution(
        kept, means=means, scale_labels=(study.scale_low_label, study.scale_high_label)
    )
    figure = axes.get_figure(root=True)
    if figure is None:  # pragma: no cover - an Axes made by analysis always has a figure
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()
