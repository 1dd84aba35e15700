"""The study's pre-declared exclusion rules, applied by ``analysis`` to the live answers.

The rules are declared on the study (``Study.exclusion_rules``, the fields of
``analysis.ExclusionRules``) before answers arrive; the desk and the exports only apply them,
so what the desk shows is what the report will do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import pandas as pd

from analysis import ExclusionRules, apply_exclusions, load_ratings
from analysis.exclusions import EverythingExcluded
from surveys.models import Study


class RulesError(ValueError):
    """The study's declared exclusion rules cannot be read; the message says how to fix them."""


@dataclass(frozen=True)
class ExclusionOutcome:
    """What the rules did to the live answers.

    Attributes:
        log: One row per rule, with the columns of ``analysis.apply_exclusions``' log.
        kept: The answers left for the analysis (gold trials removed).
        removed: Each participant a rule removed (pseudonym -> the rule's name).
        note: Why there is no log, when there is none (no answers, or every answer removed).
    """

    log: pd.DataFrame
    kept: pd.DataFrame
    removed: Mapping[str, str] = field(default_factory=dict)
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
    switches = {f.name for f in fields(ExclusionRules) if str(f.type).startswith("bool")}
    for name, value in declared.items():
        if name in switches:
            if value is not None and not isinstance(value, bool):
                raise RulesError(
                    f"Exclusion rule {name!r} must be true, false or null; got {value!r}."
                )
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RulesError(
                f"Exclusion rule {name!r} must be a number or null (switched off); got {value!r}."
            )
    return ExclusionRules(**declared)


def apply_study_rules(frame: pd.DataFrame, rules: ExclusionRules) -> ExclusionOutcome:
    """Validate the live answers and apply the rules once; never raises for an empty or thin study.

    The outcome serves the desk and every table of an export alike, so none of them replays
    the rules to learn who was removed.
    """
    if frame.empty:
        return ExclusionOutcome(pd.DataFrame(), frame, note="No answers yet.")
    ratings = load_ratings(frame)
    try:
        result = apply_exclusions(ratings, rules)
    except EverythingExcluded as err:
        return ExclusionOutcome(pd.DataFrame(), ratings.iloc[0:0], err.removed, str(err))
    except ValueError as err:
        return ExclusionOutcome(pd.DataFrame(), ratings.iloc[0:0], note=str(err))
    return ExclusionOutcome(result.log, result.kept, result.removed)
