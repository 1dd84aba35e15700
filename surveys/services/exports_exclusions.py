"""The study's pre-declared exclusion rules, applied by ``analysis`` to the live answers.

The rules are declared on the study (``Study.exclusion_rules``, the fields of
``analysis.ExclusionRules``) before answers arrive; the desk and the exports only apply them,
so what the desk shows is what the report will do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import pandas as pd

from analysis import ExclusionRules, apply_exclusions, load_ratings
from surveys.models import Study

# The participant-level rules of analysis.apply_exclusions, in the order it applies them.
PARTICIPANT_RULES: tuple[str, ...] = (
    "failed gold trials",
    "straight-lining",
    "too fast (participant median)",
)


class RulesError(ValueError):
    """The study's declared exclusion rules cannot be read; the message says how to fix them."""


@dataclass(frozen=True)
class ExclusionOutcome:
    """What the rules did to the live answers.

    Attributes:
        log: One row per rule, with the columns of ``analysis.apply_exclusions``' log.
        kept: The answers left for the analysis (gold trials removed).
        note: Why there is no log, when there is none (no answers, or every answer removed).
    """

    log: pd.DataFrame
    kept: pd.DataFrame
    note: str = ""


def check_exclusion_rules(study: Study) -> ExclusionRules:
    """The study's rules as ``analysis.ExclusionRules`` (its defaults for fields not declared).

    Raises:
        RulesError: The declared rules are not a mapping, name an unknown field or have a value
            of the wrong kind.
    """
    declared = study.exclusion_rules or {}
    if not isinstance(declared, dict):
        raise RulesError(
            f"The study's exclusion rules must be a mapping of field: value, not {declared!r}; "
            "edit them on the study page."
        )
    known = [f.name for f in fields(ExclusionRules)]
    unknown = sorted(set(declared) - set(known))
    if unknown:
        raise RulesError(
            f"The study's exclusion rules name unknown field(s) {unknown}; the known fields are "
            f"{known}. Fix the study's exclusion_rules."
        )
    for name, value in declared.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RulesError(
                f"Exclusion rule {name!r} must be a number or null (switched off); got {value!r}."
            )
    return ExclusionRules(**declared)


def apply_study_rules(frame: pd.DataFrame, rules: ExclusionRules) -> ExclusionOutcome:
    """Validate the live answers and apply the rules; never raises for an empty or thin study."""
    if frame.empty:
        return ExclusionOutcome(pd.DataFrame(), frame, "No answers yet.")
    ratings = load_ratings(frame)
    try:
        kept, log = apply_exclusions(ratings, rules)
    except ValueError as err:
        return ExclusionOutcome(pd.DataFrame(), ratings.iloc[0:0], str(err))
    return ExclusionOutcome(log, kept)


def removed_by_rule(frame: pd.DataFrame, rules: ExclusionRules) -> dict[str, str]:
    """Which rule removed each excluded participant (pseudonym -> rule name).

    The participant-level rules are switched on one at a time, in the analysis' order: a
    participant present before a rule is switched on and gone after was removed by it.
    """
    if frame.empty:
        return {}
    ratings = load_ratings(frame)
    # The study's rules with none, then the first one, two, three participant rules switched on.
    steps = [
        replace(rules, max_gold_failures=None, straightline_share=None, min_median_rt_ms=None),
        replace(rules, straightline_share=None, min_median_rt_ms=None),
        replace(rules, min_median_rt_ms=None),
        rules,
    ]
    kept = [_analysed_participants(ratings, replace(step, min_answer_rt_ms=None)) for step in steps]
    removed: dict[str, str] = {}
    for name, before, after in zip(PARTICIPANT_RULES, kept, kept[1:], strict=False):
        removed.update({participant: name for participant in before - after})
    return removed


def _analysed_participants(ratings: pd.DataFrame, rules: ExclusionRules) -> set[str]:
    try:
        kept, _ = apply_exclusions(ratings, rules)
    except ValueError:
        return set()
    return set(kept["participant"].astype(str))
