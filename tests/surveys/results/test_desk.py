"""The desk's numbers on the hand-built study of ``fixtures.py``, whose every count is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from surveys.results.desk import figure_png, study_status
from tests.surveys.factories import ConditionFactory, StudyFactory
from tests.surveys.results.fixtures import (
    LABELS,
    RULES,
    SERVER_EXTRA_MS,
    DeskStudy,
    build_desk_study,
)
from tests.surveys.storage import private_media


def test_participants_are_counted_by_where_they_are(desk_study: DeskStudy) -> None:
    status = study_status(desk_study.study)

    p = status.participants
    assert (p.started, p.consented, p.completed) == (8, 6, 5)
    assert (p.excluded, p.declined, p.returned, p.in_progress) == (1, 1, 0, 2)


def test_answers_are_counted_per_condition_and_per_question_set(desk_study: DeskStudy) -> None:
    status = study_status(desk_study.study)

    assert (status.answers, status.gold_answers) == (70, 20)
    rows = {row.label: row for row in status.conditions}
    assert list(rows) == list(LABELS)
    # Condition 0 holds 3 regular questions, the object gold and the repeat.
    assert [(r.questions, r.answers, r.gold_answers, r.participants) for r in rows.values()] == [
        (5, 28, 10, 6),
        (4, 22, 5, 6),
        (4, 20, 5, 5),
    ]
    assert rows[LABELS[0]].run_label == f"{LABELS[0]} seed 1"
    # Regular answers of condition 0: 4,5,4 5,4,5 3,3,3 4,4,5 5,3,4 3,4,2 -> 70 / 18.
    assert rows[LABELS[0]].mean_score == pytest.approx(70 / 18)
    cells = [
        (c.index, c.questions, c.participants, c.completed, c.in_progress) for c in status.cells
    ]
    # Participants alternate between the cells; the halfway rater is in cell 1.
    assert cells == [(0, 13, 3, 3, 0), (1, 13, 3, 2, 1)]


def test_medians_of_completion_and_answer_times(desk_study: DeskStudy) -> None:
    status = study_status(desk_study.study)

    # Completion minutes 10, 20, 5, 8, 2 -> 8; answer times: 35th and 36th of 70 are 2500 ms.
    assert status.median_completion_seconds == pytest.approx(8 * 60)
    assert status.median_completion_minutes == pytest.approx(8)
    assert status.median_client_rt_ms == 2500
    assert status.median_server_rt_ms == 2500 + SERVER_EXTRA_MS


def test_build_progress_counts_every_stimulus(desk_study: DeskStudy) -> None:
    build = study_status(desk_study.study).build

    assert (build.total, build.done, build.failed, build.pending) == (14, 12, 1, 1)


def test_exclusions_follow_the_declared_rules_with_counts(desk_study: DeskStudy) -> None:
    status = study_status(desk_study.study)

    assert status.rules_error == ""
    assert status.rules["straightline_min_answers"] == 6
    table = [(r.rule, r.participants_removed, r.answers_removed, r.answers_left)
             for r in status.exclusions]  # fmt: skip
    assert table == [
        ("unverified participants", 0, 0, 50),
        ("failed gold trials", 0, 0, 50),
        ("failed anchors", 1, 9, 41),
        ("straight-lining", 1, 9, 32),
        ("too fast (participant median)", 1, 9, 23),
        ("too fast (single answer)", 0, 0, 23),
        ("gold trials", 0, 8, 23),
    ]
    assert status.answers_analysed == 23


def test_rules_the_analysis_cannot_read_are_reported_not_raised(
    db: None, settings: Any, tmp_path: Path
) -> None:
    private_media(settings, tmp_path)
    built = build_desk_study(rules={"max_gold_fails": 2})

    status = study_status(built.study)

    assert "unknown field(s) ['max_gold_fails']" in status.rules_error
    assert "max_gold_failures" in status.rules_error
    assert status.exclusions == []
    assert status.answers_analysed == 50  # every regular answer, for the chart


def test_a_study_without_answers_says_so(db) -> None:
    study = StudyFactory(exclusion_rules=RULES)
    ConditionFactory(study=study)

    status = study_status(study)

    assert status.answers == 0
    assert status.exclusions_note == "No answers yet."
    assert status.median_client_rt_ms is None and status.median_completion_seconds is None
    assert [r.answers for r in status.conditions] == [0]
    assert figure_png(study) is None


def test_figure_is_a_png_of_the_kept_answers(desk_study: DeskStudy) -> None:
    png = figure_png(desk_study.study)

    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5000


def test_rules_that_remove_everyone_leave_a_note_and_no_chart(
    db: None, settings: Any, tmp_path: Path
) -> None:
    private_media(settings, tmp_path)
    built = build_desk_study(rules={"min_median_rt_ms": 60_000})

    status = study_status(built.study)

    assert "removed every answer" in status.exclusions_note
    assert status.exclusions == [] and status.answers_analysed == 0
    assert figure_png(built.study) is None
