"""Deviations: everything the analysis did that its frozen plan did not say.

A different sample size, exclusion rules or analysis settings changed at analysis (command-line
flags included), and events recorded after freezing (the researcher unblinding the desk,
collection reopened), one row each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from analysis.exclusions import ExclusionRules
from analysis.frozen_plan import FrozenPlan
from analysis.plan_settings import planned_rules, planned_settings, setting_text

DEVIATION_COLUMNS = ("kind", "setting", "planned", "used", "detail")


def _row(kind: str, setting: str, planned: object, used: object, detail: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "setting": setting,
        "planned": setting_text(planned),
        "used": setting_text(used),
        "detail": detail,
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def deviations(
    frozen: FrozenPlan | None,
    rules: ExclusionRules,
    settings: Mapping[str, Any],
    flags: Mapping[str, str] | None = None,
    participants_completed: int | None = None,
    participants_analysed: int | None = None,
) -> pd.DataFrame:
    """Every way the analysis departs from the frozen plan.

    Parameters
    ----------
    frozen
        The frozen plan; None when the study was analysed without one.
    rules
        The exclusion rules the analysis applied.
    settings
        The analysis settings used (the keys of :func:`planned_settings`).
    flags
        For settings given on the command line, the flag that set each (``{"min_median_rt_ms":
        "--min-median-rt-ms"}``), so the row names it.
    participants_completed, participants_analysed
        Who completed the study and who is in the analysis, compared with the planned sample.

    Returns
    -------
    pandas.DataFrame
        Columns in ``DEVIATION_COLUMNS``; empty when the analysis kept to the plan.
    """
    flags = flags or {}
    if frozen is None:
        detail = "the analysis ran without a frozen plan: nothing was pre-registered"
        return pd.DataFrame(
            [_row("no frozen plan", "", "", "", detail)], columns=list(DEVIATION_COLUMNS)
        )
    plan = frozen.plan
    rows: list[dict[str, Any]] = []
    if not plan.get("preregistration"):
        detail = "the plan has no preregistration section (hypotheses, primary test, sample size)"
        rows.append(_row("not pre-registered", "preregistration", "", "", detail))
    planned = asdict(planned_rules(plan))
    for name, used in asdict(rules).items():
        if not _same(planned[name], used):
            rows.append(_changed(name, planned[name], used, flags, "exclusion rule"))
    for name, wanted in planned_settings(plan).items():
        used = settings.get(name, wanted)
        if not _same(wanted, used):
            rows.append(_changed(name, wanted, used, flags, "analysis setting"))
    rows += _sample_rows(plan, participants_completed, participants_analysed)
    for event in frozen.events:
        who = f" by {event['by']}" if event.get("by") else ""
        rows.append(
            _row(
                str(event.get("kind", "event")),
                "",
                "",
                "",
                f"{event.get('detail', '')} (recorded {event.get('at', '')}{who})",
            )
        )
    return pd.DataFrame(rows, columns=list(DEVIATION_COLUMNS))


def _changed(
    name: str, planned: object, used: object, flags: Mapping[str, str], what: str
) -> dict[str, Any]:
    flag = flags.get(name)
    if flag:
        detail = f"{flag} {setting_text(used)} on the command line differs from the plan's {what}"
        return _row("command-line flag differs from the plan", name, planned, used, detail)
    return _row(f"{what} changed at analysis", name, planned, used, f"the plan's {what} differs")


def _sample_rows(
    plan: Mapping[str, Any], completed: int | None, analysed: int | None
) -> list[dict[str, Any]]:
    prereg = plan.get("preregistration") or {}
    target = (prereg.get("sample_size") or {}).get("participants") or plan.get(
        "participants_wanted"
    )
    rows = []
    if target and completed is not None and completed != target:
        detail = f"planned {target} completed participants; {completed} completed"
        rows.append(_row("different sample size", "participants", target, completed, detail))
    if target and analysed is not None and analysed < target:
        replacement = prereg.get("replacement") or "not declared"
        detail = (
            f"{analysed} participants are analysed, fewer than the planned {target} "
            f"(replacement of excluded participants: {replacement})"
        )
        rows.append(_row("fewer analysed than planned", "participants", target, analysed, detail))
    return rows


__all__ = ["DEVIATION_COLUMNS", "deviations"]
