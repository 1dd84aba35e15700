"""The Markdown of the report's study sections: pre-registration, design, participant flow,
platform, quality checks, the pre-registered hypotheses and the deviations.

Each function returns the section's parts; the table formatter is the report writer's, passed
in, so both render tables the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.report_context import StudySections

Table = Callable[[pd.DataFrame], str]


def _facts(facts: dict[str, object]) -> str:
    lines = [f"- **{name}**: {value}" for name, value in facts.items() if value not in ("", None)]
    return "\n".join(lines) + "\n" if lines else "_(none)_\n"


def preregistration_markdown(study: StudySections, table: Table) -> list[str]:
    prereg = study.preregistration
    if not prereg:
        return [
            "## Pre-registration\n",
            "No frozen plan was given: nothing about this analysis was pre-registered (see "
            "Deviations).\n",
        ]
    hypotheses = pd.DataFrame(
        [
            {
                "id": h.get("id", ""),
                "statement": h.get("statement", ""),
                "comparison": " vs ".join(h.get("compare") or []),
                "direction": h.get("direction", ""),
            }
            for h in prereg.get("hypotheses") or []
        ],
        columns=["id", "statement", "comparison", "direction"],
    )
    parts = [
        "## Pre-registration\n",
        f"Frozen on {prereg['frozen_at']} when data collection opened; SHA-256 of the plan's "
        f"canonical text (JSON, sorted keys, no whitespace, UTF-8): `{prereg['sha256']}`.\n",
        "Hypotheses (the direction is of the first condition against the second):\n",
        table(hypotheses),
        "\n",
        _facts(prereg.get("summary") or {}),
    ]
    departures = prereg.get("protocol_departures") or []
    if departures:
        parts += ["\nDeclared departures from the protocol preset:\n"]
        parts += ["\n".join(f"- {d}" for d in departures) + "\n"]
    return parts


def design_markdown(study: StudySections, table: Table) -> list[str]:
    if study.design.empty and not any(study.design_facts.values()):
        return ["## Design\n", "No plan was given, so the design is not stated here.\n"]
    return [
        "## Design\n",
        "Conditions (participants never see these labels):\n",
        table(study.design),
        "\n",
        _facts(study.design_facts),
    ]


def flow_markdown(study: StudySections, table: Table) -> list[str]:
    if study.flow.empty:
        return [
            "## Participant flow\n",
            "No participants table was given (pass the export's participants.csv), so the flow "
            "per question set is not drawn.\n",
        ]
    wide = study.flow.pivot_table(
        index="stage", columns="question_set", values="participants", sort=False, aggfunc="sum"
    )
    wide = wide.reset_index()
    for column in wide.columns[1:]:
        wide[column] = [("" if pd.isna(v) else str(int(v))) for v in wide[column]]
    return [
        "## Participant flow\n",
        "CONSORT-style: enrolment for everyone, then per question set from allocation (at "
        "consent) to analysis; the figure is `participant_flow.png`.\n",
        table(wide),
    ]


def platform_markdown(study: StudySections) -> list[str]:
    return ["## Platform, dates and pay\n", _facts(study.platform)]


def quality_markdown(study: StudySections, table: Table) -> list[str]:
    parts = []
    titles = {
        "gold_by_kind": "Gold and attention items: pass rates by kind",
        "retest_reliability": "Test-retest reliability of the repeated questions",
    }
    for name, frame in study.quality.items():
        parts += [f"### {titles.get(name, name.replace('_', ' ').capitalize())}\n", table(frame)]
    return parts


def hypotheses_markdown(study: StudySections, table: Table) -> list[str]:
    if study.hypotheses.empty:
        return []
    return [
        "\n### Pre-registered hypotheses\n",
        "Each against the headline contrast of its pair: supported when the adjusted p-value "
        "is below the plan's alpha and the estimate lies in the predicted direction (the model's "
        "tests are two-sided, so a directional hypothesis is judged conservatively).\n",
        table(study.hypotheses),
    ]


def deviations_markdown(study: StudySections, table: Table) -> list[str]:
    if study.deviations.empty:
        return ["## Deviations from the plan\n", "None: the analysis kept to the frozen plan.\n"]
    return [
        "## Deviations from the plan\n",
        "Everything this analysis did that the frozen plan did not say:\n",
        table(study.deviations),
    ]


__all__ = [
    "design_markdown",
    "deviations_markdown",
    "flow_markdown",
    "hypotheses_markdown",
    "platform_markdown",
    "preregistration_markdown",
    "quality_markdown",
]
