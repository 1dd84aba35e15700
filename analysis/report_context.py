"""What a report knows about the study beyond its answers: the frozen plan, the participants,
the platform and pay, and the command-line flags that overrode the plan.

The study platform's export fills a :class:`StudyContext` from its database; the command line
from ``--plan preregistration.json`` and ``--participants participants.csv``. Every table made
here is tidy with fixed columns; a context without a plan or participants gives empty tables and
the report says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.exclusions import ExclusionRules
from analysis.flow_figure import FLOW_COLUMNS, participant_flow
from analysis.preregistration import (
    DEVIATION_COLUMNS,
    HYPOTHESIS_COLUMNS,
    FrozenPlan,
    deviations,
    hypothesis_outcomes,
    plan_summary,
)
from analysis.quality import gold_mask, gold_pass_rates
from analysis.reliability import retest_reliability

DESIGN_COLUMNS = ("label", "dataset", "run", "kind", "similarity")
PLATFORM_FIELDS = ("recruiter", "reward", "currency", "estimated_minutes")
MINUTES_PER_HOUR = 60.0


@dataclass(frozen=True)
class StudyContext:
    """The study around the answers.

    Attributes
    ----------
    plan
        The frozen plan, with the events recorded after freezing; None when there is none.
    participants
        One row per participant (the export's ``participants.csv``); None when not given.
    platform
        ``recruiter``, ``reward``, ``currency`` and ``estimated_minutes`` as the study states
        them (pay is not part of the frozen plan: it may be raised while data come in).
    flags
        For settings given on the command line, the flag that set each, e.g.
        ``{"min_median_rt_ms": "--min-median-rt-ms"}``.
    """

    plan: FrozenPlan | None = None
    participants: pd.DataFrame | None = None
    platform: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, str] = field(default_factory=dict)


def design_table(plan: Mapping[str, Any]) -> pd.DataFrame:
    """The conditions of the plan's design, columns in ``DESIGN_COLUMNS``."""
    conditions = (plan.get("design") or {}).get("conditions") or []
    rows = [{c: condition.get(c, "") for c in DESIGN_COLUMNS} for condition in conditions]
    return pd.DataFrame(rows, columns=list(DESIGN_COLUMNS))


def design_facts(plan: Mapping[str, Any], raw: pd.DataFrame) -> dict[str, object]:
    """The design in a few facts: sets, items, rule, sampling, gold, question and scale."""
    design = plan.get("design") or {}
    gold = raw[gold_mask(raw)] if len(raw) else raw
    if "question_kind" in gold.columns:
        kinds = gold["question_kind"]
    else:
        kinds = pd.Series("gold", index=gold.index)
    return {
        "question sets": design.get("question_sets", ""),
        "questions per dataset": design.get("questions_per_dataset", ""),
        "prototype rule": design.get("prototype_rule", ""),
        "images": f"{design.get('split', '')} split, seed {design.get('seed', '')}",
        "protocol": design.get("protocol") or "own",
        "gold share": design.get("gold_share", ""),
        "gold items answered, by kind": ", ".join(
            f"{k}: {n}" for k, n in kinds.astype(str).value_counts().sort_index().items()
        )
        or "none",
        "question": design.get("question", ""),
        "scale": " ... ".join(str(s) for s in design.get("scale") or []),
        "overlay box": (design.get("style") or {}).get("box", ""),
    }


def platform_facts(context: StudyContext) -> dict[str, object]:
    """Platform, dates and pay: the recruiter, the reward and the effective hourly rate, the
    first entry and the last completion, and the median time to complete."""
    facts: dict[str, object] = {k: context.platform.get(k, "") for k in PLATFORM_FIELDS}
    people = context.participants
    if people is None or people.empty or "started_at" not in people.columns:
        return facts
    started = pd.to_datetime(people["started_at"], errors="coerce", utc=True)
    ends = (
        people["completed_at"]
        if "completed_at" in people.columns
        else pd.Series(pd.NaT, people.index)
    )
    done = pd.to_datetime(ends, errors="coerce", utc=True)
    minutes = ((done - started).dt.total_seconds() / MINUTES_PER_HOUR).dropna()
    facts["first entry"] = _iso(started.min())
    facts["last completion"] = _iso(done.max())
    if len(minutes):
        median = float(minutes.median())
        facts["median minutes to complete"] = round(median, 1)
        reward = _number(context.platform.get("reward"))
        if reward is not None and median > 0:
            rate = reward / median * MINUTES_PER_HOUR
            facts["effective pay per hour"] = f"{rate:.2f} {context.platform.get('currency', '')}"
    return facts


def _iso(moment: pd.Timestamp | None) -> str:
    return "" if moment is None or pd.isna(moment) else moment.isoformat()


def _number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def completed_count(context: StudyContext) -> int | None:
    """Participants who completed, from the participants table (None without one)."""
    people = context.participants
    if people is None:
        return None
    if "completed_at" in people.columns:
        return int(
            (people["completed_at"].notna() & (people["completed_at"].astype(str) != "")).sum()
        )
    return int((people["status"].astype(str) == "completed").sum())


__all__ = [
    "DESIGN_COLUMNS",
    "StudyContext",
    "StudySections",
    "completed_count",
    "design_facts",
    "design_table",
    "platform_facts",
    "quality_tables",
    "study_sections",
]


@dataclass
class StudySections:
    """The report's sections about the study, beside its statistics (tidy tables, plain data)."""

    preregistration: dict[str, Any] = field(default_factory=dict)
    design: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DESIGN_COLUMNS))
    design_facts: dict[str, object] = field(default_factory=dict)
    flow: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FLOW_COLUMNS))
    platform: dict[str, object] = field(default_factory=dict)
    quality: dict[str, pd.DataFrame] = field(default_factory=dict)
    hypotheses: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=HYPOTHESIS_COLUMNS)
    )
    deviations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=DEVIATION_COLUMNS)
    )


def quality_tables(
    raw: pd.DataFrame, rules: ExclusionRules, settings: Mapping[str, Any]
) -> dict[str, pd.DataFrame]:
    """Gold and attention pass rates by kind (under the tolerance in force) and test-retest
    reliability, from :mod:`analysis.quality` and :mod:`analysis.reliability`."""
    level = float(settings.get("confidence_level", 0.95))
    tables = {"gold_by_kind": gold_pass_rates(raw, rules.gold_tolerance, level)}
    try:
        tables["retest_reliability"] = retest_reliability(raw, level)
    except ValueError as err:
        # Too few or degenerate pairs: the section says so rather than failing the report.
        tables["retest_reliability"] = pd.DataFrame({"note": [str(err)]})
    return tables


def study_sections(
    raw: pd.DataFrame,
    analysed: pd.DataFrame,
    removed: Mapping[str, str],
    contrasts: pd.DataFrame | None,
    rules: ExclusionRules,
    settings: Mapping[str, Any],
    context: StudyContext,
) -> StudySections:
    """Every study section of the report from the answers, the exclusions and the context."""
    frozen = context.plan
    plan = frozen.plan if frozen is not None else {}
    people = context.participants
    who = set(analysed["participant"].astype(str))
    flow = participant_flow(people, removed, who) if people is not None else StudySections().flow
    sections = StudySections(
        design=design_table(plan),
        design_facts=design_facts(plan, raw),
        flow=flow,
        platform=platform_facts(context),
        quality=quality_tables(raw, rules, settings),
        hypotheses=hypothesis_outcomes(
            plan, contrasts if contrasts is not None else pd.DataFrame()
        ),
        deviations=deviations(
            frozen, rules, settings, context.flags, completed_count(context), len(who)
        ),
    )
    if frozen is not None:
        sections.preregistration = {
            "sha256": frozen.sha256,
            "frozen_at": frozen.frozen_at,
            "summary": dict(plan_summary(plan)),
            "hypotheses": list((plan.get("preregistration") or {}).get("hypotheses") or []),
            "protocol_departures": list(
                (plan.get("design") or {}).get("protocol_departures") or []
            ),
        }
    return sections
