"""The desk's numbers on a hand-built study whose every count is known.

The study (:func:`desk_study`): three conditions, 9 regular questions (3 per condition) and 4
gold ones (map on the object, map on background, an instructed item, a repeat), two question
sets, and eight participants: two careful raters, a straight-liner, a gold failer, a speeder,
one half-way through, one who declined and one who only opened the link. Other desk and
export test modules import the fixture from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from surveys import models as m
from surveys.results.desk import figure_png, study_status
from tests.surveys.factories import (
    ConditionFactory,
    ParticipantFactory,
    QuestionFactory,
    QuestionSetFactory,
    ResponseFactory,
    RunFactory,
    StimulusFactory,
    StudyFactory,
)
from tests.surveys.storage import private_media

LABELS = ("ProtoPool (focal)", "ProtoPool (ProtoPNet similarity)", "ProtoTree")
RULES = {"max_gold_failures": 0, "straightline_min_answers": 6, "min_median_rt_ms": 1000}
SERVER_EXTRA_MS = 150
# Regular scores in question order (conditions 0, 0, 0, 1, 1, 1, 2, 2, 2) and gold answers
# (object, background, instructed, repeat of question 0); None: not answered.
PEOPLE: dict[str, dict[str, object]] = {
    "careful-1": {"regular": [4, 5, 4, 2, 3, 2, 3, 3, 4], "gold": [5, 1, 5, 5], "rt": 3000,
                  "minutes": 10},
    "careful-2": {"regular": [5, 4, 5, 1, 2, 2, 3, 4, 3], "gold": [4, 2, 5, 4], "rt": 2500,
                  "minutes": 20},
    "straight": {"regular": [3] * 9, "gold": [4, 2, 5, 3], "rt": 2000, "minutes": 5},
    "gold-fail": {"regular": [4, 4, 5, 2, 1, 3, 3, 2, 4], "gold": [4, 5, 5, 4], "rt": 2800,
                  "minutes": 8},
    "speeder": {"regular": [5, 3, 4, 1, 2, 1, 4, 3, 2], "gold": [4, 1, 5, 5], "rt": 400,
                "minutes": 2},
    "halfway": {"regular": [3, 4, 2, 5, 1], "gold": [], "rt": 3500, "minutes": None},
}  # fmt: skip


@dataclass
class DeskStudy:
    study: m.Study
    conditions: list[m.Condition]
    regular: list[m.Question]
    gold: list[m.Question]
    people: dict[str, m.Participant] = field(default_factory=dict)

    def external_ids(self) -> list[str]:
        return [p.external_id for p in m.Participant.objects.filter(study=self.study)]


def _questions(study: m.Study, conditions: list[m.Condition]) -> tuple[list, list]:
    regular = [
        QuestionFactory(stimulus__condition=c, stimulus__crop_box=[2, 3, 40, 40])
        for c in conditions
        for _ in range(3)
    ]
    gold = [
        QuestionFactory(stimulus__condition=conditions[0], kind=m.QuestionKind.GOLD_OBJECT,
                        gold_expected=4),
        QuestionFactory(stimulus__condition=conditions[1], stimulus__map_override="background",
                        kind=m.QuestionKind.GOLD_BACKGROUND, gold_expected=2),
        QuestionFactory(stimulus__condition=conditions[2], kind=m.QuestionKind.INSTRUCTED,
                        gold_expected=5, instruction="Please choose 5 for this picture."),
        QuestionFactory(stimulus=regular[0].stimulus, kind=m.QuestionKind.REPEAT,
                        repeat_of=regular[0]),
    ]  # fmt: skip
    # Two rendered stimuli that no question uses: one still pending, one failed.
    StimulusFactory(condition=conditions[2], status=m.StimulusStatus.PENDING, overlay="")
    StimulusFactory(condition=conditions[2], status=m.StimulusStatus.FAILED, error="boom")
    return regular, gold


def _answer(person: m.Participant, script: dict[str, object], questions: list) -> None:
    scores = list(script["regular"]) + list(script["gold"])  # type: ignore[call-overload]
    rt = int(script["rt"])  # type: ignore[call-overload]
    for position, (question, score) in enumerate(zip(questions, scores, strict=False)):
        ResponseFactory(participant=person, question=question, position=position, score=score,
                        client_rt_ms=rt, server_rt_ms=rt + SERVER_EXTRA_MS)  # fmt: skip


def build_desk_study(rules: dict[str, object] | None = None) -> DeskStudy:
    """The study described in the module docstring, with every row in the database."""
    study = StudyFactory(slug="saliency-pilot", title="Saliency pilot", seed=7,
                         exclusion_rules=RULES if rules is None else rules,
                         style={"heat_weight": 0.3})  # fmt: skip
    conditions = [
        ConditionFactory(study=study, run=RunFactory(label=f"{label} seed 1"), label=label,
                         dataset="SynthBirds", position=i)
        for i, label in enumerate(LABELS)
    ]  # fmt: skip
    regular, gold = _questions(study, conditions)
    cells = [QuestionSetFactory(study=study, index=i) for i in range(2)]
    for cell in cells:
        cell.questions.set(regular + gold)
    built = DeskStudy(study, conditions, regular, gold)
    now = timezone.now()
    for n, (name, script) in enumerate(PEOPLE.items()):
        person = ParticipantFactory(study=study, external_id=f"EXT-RAW-ID-{name}",
                                    question_set=cells[n % 2])  # fmt: skip
        _answer(person, script, regular + gold)
        minutes = script["minutes"]
        started = now - timedelta(hours=2)
        done = started + timedelta(minutes=float(minutes)) if minutes is not None else None  # type: ignore[arg-type]
        status = m.ParticipantStatus.COMPLETED if done else m.ParticipantStatus.CONSENTED
        if name == "speeder":
            status = m.ParticipantStatus.EXCLUDED
        m.Participant.objects.filter(pk=person.pk).update(
            started_at=started, consented_at=started + timedelta(minutes=1), completed_at=done,
            status=status, exclusion_reason="answered too fast" if name == "speeder" else "",
        )  # fmt: skip
        built.people[name] = person
    built.people["declined"] = ParticipantFactory(
        study=study, external_id="EXT-RAW-ID-declined", status=m.ParticipantStatus.DECLINED
    )
    built.people["opened"] = ParticipantFactory(study=study, external_id="EXT-RAW-ID-opened")
    return built


@pytest.fixture
def desk_study(db: None, settings: Any, tmp_path: Path) -> DeskStudy:
    private_media(settings, tmp_path)
    return build_desk_study()


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
        ("failed gold trials", 1, 9, 41),
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
