"""The frozen plan in words: the nine AsPredicted answers and the report's summary of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analysis.frozen_plan import FrozenPlan
from analysis.plan_settings import PRIMARY_MODEL, setting_text


def _conditions_text(design: Mapping[str, Any]) -> str:
    conditions = design.get("conditions") or []
    listed = "; ".join(f"{c.get('label')} ({c.get('dataset')})" for c in conditions)
    sets = design.get("question_sets", "latin_square")
    if sets == "fixed":
        layout = "one fixed set of questions for every participant, each image under one condition"
    else:
        layout = "a Latin square: each participant sees every image once, under one condition"
    return f"{len(conditions)} conditions: {listed}. Allocation: {layout}."


REPLACEMENT_WORDS = {
    "replace": "an excluded participant's place is offered again, so every set reaches its "
    "planned count",
    "no_replacement": "excluded participants are not replaced",
}


def _hypotheses_text(hypotheses: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for h in hypotheses:
        pair = list(h.get("compare") or ["", ""])
        direction = h.get("direction", "two_sided")
        lines.append(
            f"  {h.get('id', '')}: {h.get('statement', '')} [{pair[0]} vs {pair[-1]}, {direction}]"
        )
    return "\n".join(lines) or "  None declared."


def _analysis_text(prereg: Mapping[str, Any]) -> str:
    primary = prereg.get("primary_test") or {}
    extra = f"; reference {primary['reference']}" if primary.get("reference") else ""
    extra += "; by-participant method slopes" if primary.get("slopes") else ""
    return (
        f"Primary test: {primary.get('model', PRIMARY_MODEL)}, a cumulative logit mixed model "
        "with participants and images as random samples; Wald tests of every pair of "
        f"conditions, {prereg.get('multiplicity', 'holm')}-adjusted, alpha = "
        f"{prereg.get('alpha', 0.05)}{extra}. Rank tests, bootstrap intervals and the clustered "
        "models of the report are secondary."
    )


def _exclusions_text(plan: Mapping[str, Any], prereg: Mapping[str, Any]) -> str:
    rules = ", ".join(
        f"{name}={setting_text(value)}"
        for name, value in sorted((plan.get("exclusion_rules") or {}).items())
    )
    replacement = REPLACEMENT_WORDS.get(str(prereg.get("replacement")), "not declared")
    return f"{prereg.get('exclusions', '')} Rules: {rules}. Replacement: {replacement}.".strip()


def _sample_text(plan: Mapping[str, Any], prereg: Mapping[str, Any]) -> str:
    sample = prereg.get("sample_size") or {}
    design = plan.get("design") or {}
    participants = sample.get("participants", plan.get("participants_wanted"))
    return (
        f"{participants} participants, {design.get('questions_per_dataset')} questions per "
        f"dataset. Power analysis: {sample.get('justification', 'none given')} (target power "
        f"{sample.get('target_power', '')}, assumed effect {sample.get('effect_log_odds', '')} "
        f"log odds). Stopping rule: {prereg.get('stopping_rule', 'not declared')}"
    )


def _other_text(design: Mapping[str, Any]) -> str:
    departures = "".join(f"; departs from it: {d}" for d in design.get("protocol_departures") or [])
    return (
        f"Prototype rule: {design.get('prototype_rule')}; images from the "
        f"{design.get('split')} split, seed {design.get('seed')}; protocol: "
        f"{design.get('protocol') or 'own'}{departures}."
    )


def aspredicted_text(frozen: FrozenPlan) -> str:
    """The plan as the nine answers of an AsPredicted pre-registration (plain text)."""
    plan = frozen.plan
    prereg = plan.get("preregistration") or {}
    design = plan.get("design") or {}
    scale = design.get("scale") or ["1", "5"]
    answers = [
        (
            "1) Data collection. Have any data been collected for this study already?",
            f"No. The plan was frozen on {frozen.frozen_at}, when data collection opened.",
        ),
        (
            "2) Hypothesis. What's the main question being asked or hypothesis being tested?",
            _hypotheses_text(prereg.get("hypotheses") or []),
        ),
        (
            "3) Dependent variable. Describe the key dependent variable(s).",
            f'The answer to "{design.get("question", "")}" on a scale from 1 "{scale[0]}" '
            f'to 5 "{scale[-1]}".',
        ),
        (
            "4) Conditions. How many and which conditions will participants be assigned to?",
            _conditions_text(design),
        ),
        (
            "5) Analyses. Specify exactly which analyses you will conduct.",
            _analysis_text(prereg),
        ),
        (
            "6) Outliers and Exclusions. Describe exactly how outliers will be defined and "
            "handled.",
            _exclusions_text(plan, prereg),
        ),
        (
            "7) Sample Size. How many observations will be collected?",
            _sample_text(plan, prereg),
        ),
        ("8) Other. Anything else you would like to pre-register?", _other_text(design)),
        (
            "9) Name. Give a title for this AsPredicted pre-registration.",
            str((plan.get("study") or {}).get("title", "")),
        ),
    ]
    body = "\n\n".join(f"{question}\n{answer}" for question, answer in answers)
    return (
        f"{body}\n\nFrozen plan SHA-256: {frozen.sha256} (of its canonical JSON text, UTF-8)\n"
        f"Frozen at: {frozen.frozen_at}\n"
    )


def plan_summary(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Field and value pairs of the pre-registration, in the report's order."""
    prereg = plan.get("preregistration") or {}
    sample = prereg.get("sample_size") or {}
    primary = prereg.get("primary_test") or {}
    pairs: Sequence[tuple[str, object]] = (
        ("primary test", primary.get("model", "")),
        ("reference", primary.get("reference") or "first condition"),
        ("alpha", prereg.get("alpha", "")),
        ("multiplicity", prereg.get("multiplicity", "")),
        ("participants planned", sample.get("participants", plan.get("participants_wanted"))),
        ("target power", sample.get("target_power", "")),
        ("assumed effect (log odds)", sample.get("effect_log_odds", "")),
        ("power analysis", sample.get("justification", "")),
        ("stopping rule", prereg.get("stopping_rule", "")),
        ("exclusions", prereg.get("exclusions", "")),
        (
            "replacement of excluded participants",
            REPLACEMENT_WORDS.get(str(prereg.get("replacement")), ""),
        ),
    )
    return [(name, setting_text(value) if value != "" else "not declared") for name, value in pairs]


__all__ = ["REPLACEMENT_WORDS", "aspredicted_text", "plan_summary"]
