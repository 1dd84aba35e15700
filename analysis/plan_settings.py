"""What a frozen plan fixes for the analysis, and the words it may use to fix it.

The plan's vocabulary (hypothesis directions, multiplicity corrections, the primary model's
name) is what the study spec is checked against; the exclusion rules, analysis settings and
alpha read here are the analysis' defaults wherever the plan is silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from analysis.exclusions import ExclusionRules

DIRECTIONS = ("greater", "less", "two_sided")
# The multiplicity corrections a plan may name: statsmodels' ``multipletests`` methods.
MULTIPLICITY = ("holm", "bonferroni", "hommel", "fdr_bh")
PRIMARY_MODEL = "primary_model"


def planned_rules(plan: Mapping[str, Any]) -> ExclusionRules:
    """The plan's exclusion rules (the analysis' defaults for fields it leaves out)."""
    declared = plan.get("exclusion_rules") or {}
    known = {name: declared[name] for name in asdict(ExclusionRules()) if name in declared}
    return ExclusionRules(**known)


def planned_settings(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The analysis settings the plan fixes: ``p_adjust``, ``confidence_level``,
    ``reference`` and ``slopes`` (the report's defaults where the plan is silent)."""
    prereg = plan.get("preregistration") or {}
    primary = prereg.get("primary_test") or {}
    alpha = prereg.get("alpha")
    return {
        "p_adjust": prereg.get("multiplicity") or "holm",
        "confidence_level": 1 - float(alpha) if alpha else 0.95,
        "reference": primary.get("reference"),
        "slopes": bool(primary.get("slopes", False)),
    }


def planned_alpha(plan: Mapping[str, Any]) -> float:
    """The plan's alpha (0.05 where it gives none)."""
    prereg = plan.get("preregistration") or {}
    return float(prereg.get("alpha") or 0.05)


def setting_text(value: object) -> str:
    """A planned or used value as the report writes it (``off`` for None, ``5`` for 5.0)."""
    if value is None:
        return "off"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


__all__ = [
    "DIRECTIONS",
    "MULTIPLICITY",
    "PRIMARY_MODEL",
    "planned_alpha",
    "planned_rules",
    "planned_settings",
    "setting_text",
]
