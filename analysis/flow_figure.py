"""The participant flow of a study, per question set, as a table and a CONSORT-style figure.

CONSORT's flow diagram follows people from enrolment through allocation to analysis; here:
everyone who entered, who declined consent or left before it, then per question set (the
allocation happens at consent) who was allocated, completed, returned or is still answering,
who each pre-declared exclusion rule removed, and who is analysed.

The input is the study's participants table (``participants.csv`` of the export: one row per
participant with ``participant``, ``status``, ``question_set``, ``consented_at`` and
``completed_at``), the rule that removed each excluded participant and who is analysed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.plots import FORMATS, save_figure

FLOW_COLUMNS = ("question_set", "stage", "participants")
ENROLMENT = "all"
PARTICIPANT_FIELDS = ("participant", "status", "question_set")
BOX_STYLE = {"boxstyle": "round,pad=0.4", "facecolor": "#f4f6fa", "edgecolor": "0.35"}
SIDE_STYLE = {"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.6"}


def _filled(column: pd.Series) -> pd.Series:
    return column.notna() & (column.astype(str).str.strip() != "")


def _set_label(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
        return ""
    text = str(value)
    return f"set {int(float(text)) + 1}" if text.replace(".", "", 1).isdigit() else text


def participant_flow(
    participants: pd.DataFrame, removed: Mapping[str, str], analysed: Collection[str]
) -> pd.DataFrame:
    """Counts at every stage, per question set.

    Parameters
    ----------
    participants
        One row per participant with at least ``PARTICIPANT_FIELDS``; ``consented_at`` and
        ``completed_at`` refine the stages when present.
    removed
        The pre-declared rule that removed each excluded participant.
    analysed
        The participants whose answers the analysis uses.

    Returns
    -------
    pandas.DataFrame
        Columns in ``FLOW_COLUMNS``; enrolment stages have ``question_set`` ``"all"``.

    Raises
    ------
    ValueError
        A required column is missing.
    """
    missing = [c for c in PARTICIPANT_FIELDS if c not in participants.columns]
    if missing:
        raise ValueError(
            f"The participants table lacks {missing}; pass the export's participants.csv."
        )
    people = participants.assign(
        participant=participants["participant"].astype(str),
        status=participants["status"].astype(str),
        cell=participants["question_set"].map(_set_label),
    )
    consented = (
        _filled(people["consented_at"])
        if "consented_at" in people
        else people["status"].isin(["consented", "completed", "returned", "excluded"])
    )
    completed = (
        _filled(people["completed_at"])
        if "completed_at" in people
        else people["status"] == "completed"
    )
    declined = people["status"] == "declined"
    rows: list[tuple[str, str, int]] = [
        (ENROLMENT, "entered", len(people)),
        (ENROLMENT, "declined consent", int(declined.sum())),
        (ENROLMENT, "left before consenting", int((~consented & ~declined).sum())),
    ]
    rules = list(dict.fromkeys(removed.values()))
    rule_of = people["participant"].map(dict(removed))
    allocated = people[consented]
    for cell, group in allocated.groupby("cell", sort=True):
        name = str(cell) or "no set"
        done = completed[group.index]
        rows += [
            (name, "allocated", len(group)),
            (name, "completed", int(done.sum())),
            (name, "returned or timed out", int((group["status"] == "returned").sum())),
            (name, "still answering", int((~done & (group["status"] == "consented")).sum())),
            (name, "marked excluded on the platform", int((group["status"] == "excluded").sum())),
        ]
        for rule in rules:
            rows.append((name, f"excluded: {rule}", int((rule_of[group.index] == rule).sum())))
        rows.append((name, "analysed", int(group["participant"].isin(set(analysed)).sum())))
    return pd.DataFrame(rows, columns=list(FLOW_COLUMNS))


def _count(flow: pd.DataFrame, cell: str, stage: str) -> int:
    hit = flow[(flow["question_set"] == cell) & (flow["stage"] == stage)]["participants"]
    return int(hit.iloc[0]) if len(hit) else 0


def _box(ax: Axes, x: float, y: float, text: str, side: bool = False) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize="small",
            bbox=SIDE_STYLE if side else BOX_STYLE)  # fmt: skip


def _arrow(ax: Axes, x: float, y0: float, y1: float) -> None:
    ax.annotate("", xy=(x, y1), xytext=(x, y0), arrowprops={"arrowstyle": "->", "color": "0.35"})


def plot_participant_flow(flow: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The flow as boxes: enrolment on top, one column per question set below.

    Parameters
    ----------
    flow
        Output of :func:`participant_flow`.
    ax
        Axes to draw on; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    cells = [c for c in dict.fromkeys(flow["question_set"]) if c != ENROLMENT]
    if ax is None:
        fig = Figure(figsize=(max(6.8, 2.6 * len(cells)), 6.2), layout="constrained")
        ax = fig.add_subplot()
    width = max(1, len(cells))
    ax.set_xlim(0, width)
    ax.set_ylim(0, 1)
    ax.axis("off")
    top = (
        f"Entered: {_count(flow, ENROLMENT, 'entered')}\n"
        f"declined consent: {_count(flow, ENROLMENT, 'declined consent')}; left before "
        f"consenting: {_count(flow, ENROLMENT, 'left before consenting')}"
    )
    _box(ax, width / 2, 0.93, top)
    for i, cell in enumerate(cells):
        x = i + 0.5
        _arrow(ax, x, 0.87, 0.8)
        _box(ax, x, 0.76, f"{cell}: allocated {_count(flow, cell, 'allocated')}")
        _arrow(ax, x, 0.72, 0.64)
        lost = (
            f"returned {_count(flow, cell, 'returned or timed out')}\n"
            f"still answering {_count(flow, cell, 'still answering')}"
        )
        _box(ax, x, 0.58, f"completed {_count(flow, cell, 'completed')}")
        _box(ax, x, 0.47, lost, side=True)
        stages = flow[(flow["question_set"] == cell) & flow["stage"].str.startswith("excluded")]
        excluded = "\n".join(
            f"{row.stage.removeprefix('excluded: ')}: {row.participants}"
            for row in stages.itertuples()
        )
        marked = _count(flow, cell, "marked excluded on the platform")
        _box(ax, x, 0.3, f"excluded by rule\n{excluded or 'none'}\n(platform: {marked})", True)
        _arrow(ax, x, 0.2, 0.13)
        _box(ax, x, 0.08, f"analysed {_count(flow, cell, 'analysed')}")
    ax.set_title("Participant flow per question set", fontsize="medium")
    return ax


def flow_figure(
    flow: pd.DataFrame, out_dir: str | Path, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write the flow figure (``participant_flow.*``) in every format."""
    ax = plot_participant_flow(flow)
    fig = ax.figure
    root = fig if isinstance(fig, Figure) else fig.figure
    return save_figure(root, out_dir, "participant_flow", formats)


__all__ = [
    "FLOW_COLUMNS",
    "flow_figure",
    "participant_flow",
    "plot_participant_flow",
]
