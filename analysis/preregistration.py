"""A study's frozen plan: its canonical text and hash, AsPredicted-style text, and deviations.

The plan is plain data (a mapping): the ``preregistration`` section of the study spec
(hypotheses with their direction, the primary test, alpha and the multiplicity correction, the
sample size and the power analysis behind it, the stopping rule, exclusions and the replacement
of excluded participants), the ``design`` and the ``exclusion_rules``. It is frozen when data
collection opens.

This module gathers the plan's public names; each part lives in its own module:

- :mod:`analysis.frozen_plan`: the canonical text, its SHA-256, and the plan file.
- :mod:`analysis.plan_settings`: the plan's vocabulary and what it fixes for the analysis.
- :mod:`analysis.plan_deviations`: everything the analysis did that the plan did not say.
- :mod:`analysis.plan_hypotheses`: each hypothesis against the headline model's contrasts.
- :mod:`analysis.plan_summaries`: the plan as AsPredicted answers and as the report's summary.
"""

from __future__ import annotations

from analysis.frozen_plan import (
    PLAN_FORMAT,
    FrozenPlan,
    canonical_text,
    plan_sha256,
    read_plan,
    text_sha256,
    write_plan,
)
from analysis.plan_deviations import DEVIATION_COLUMNS, deviations
from analysis.plan_hypotheses import HYPOTHESIS_COLUMNS, hypothesis_outcomes
from analysis.plan_settings import (
    DIRECTIONS,
    MULTIPLICITY,
    PRIMARY_MODEL,
    planned_alpha,
    planned_rules,
    planned_settings,
)
from analysis.plan_summaries import REPLACEMENT_WORDS, aspredicted_text, plan_summary

__all__ = [
    "DEVIATION_COLUMNS",
    "DIRECTIONS",
    "HYPOTHESIS_COLUMNS",
    "MULTIPLICITY",
    "PLAN_FORMAT",
    "PRIMARY_MODEL",
    "REPLACEMENT_WORDS",
    "FrozenPlan",
    "aspredicted_text",
    "canonical_text",
    "deviations",
    "hypothesis_outcomes",
    "plan_sha256",
    "plan_summary",
    "planned_alpha",
    "planned_rules",
    "planned_settings",
    "read_plan",
    "text_sha256",
    "write_plan",
]
