"""Each pre-registered hypothesis judged against the headline model's contrasts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.plan_settings import planned_alpha

HYPOTHESIS_COLUMNS = (
    "hypothesis",
    "comparison",
    "direction",
    "log_odds_ratio",
    "p_adjusted",
    "alpha",
    "in_predicted_direction",
    "supported",
)


def hypothesis_outcomes(plan: Mapping[str, Any], contrasts: pd.DataFrame) -> pd.DataFrame:
    """Each pre-registered hypothesis against the headline model's contrast of its pair.

    A hypothesis is supported when the adjusted p-value is below the plan's alpha and, for a
    directional one, the estimate lies in the predicted direction. The model's tests are
    two-sided, so a directional hypothesis is judged conservatively.
    """
    prereg = plan.get("preregistration") or {}
    alpha = planned_alpha(plan)
    rows = []
    for hypothesis in prereg.get("hypotheses") or []:
        a, b = (list(hypothesis.get("compare") or []) + ["", ""])[:2]
        direction = hypothesis.get("direction", "two_sided")
        estimate, p = _contrast(contrasts, str(a), str(b))
        predicted = None
        if not math.isnan(estimate) and direction != "two_sided":
            predicted = estimate > 0 if direction == "greater" else estimate < 0
        significant = not math.isnan(p) and p < alpha
        supported = significant and predicted is not False
        rows.append(
            {
                "hypothesis": str(hypothesis.get("id", "")),
                "comparison": f"{a} vs {b}",
                "direction": direction,
                "log_odds_ratio": estimate,
                "p_adjusted": p,
                "alpha": alpha,
                "in_predicted_direction": predicted,
                "supported": bool(supported),
            }
        )
    return pd.DataFrame(rows, columns=list(HYPOTHESIS_COLUMNS))


def _contrast(contrasts: pd.DataFrame, a: str, b: str) -> tuple[float, float]:
    """The log odds ratio of a over b, and its adjusted p-value (NaN when the pair is absent)."""
    if contrasts is None or contrasts.empty:
        return math.nan, math.nan
    for first, second, sign in ((a, b, 1.0), (b, a, -1.0)):
        hit = contrasts[
            (contrasts["method_a"].astype(str) == first)
            & (contrasts["method_b"].astype(str) == second)
        ]
        if len(hit):
            row = hit.iloc[0]
            return sign * float(row["log_odds_ratio"]), float(row["p_adjusted"])
    return math.nan, math.nan


__all__ = ["HYPOTHESIS_COLUMNS", "hypothesis_outcomes"]
