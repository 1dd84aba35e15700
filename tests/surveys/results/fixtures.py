"""The desk's numbers on a hand-built study whose every count is known.

The study (:func:`build_desk_study`): three conditions, 9 regular questions (3 per condition) and 4
gold ones (map on the object, map on background, an instructed item, a repeat), two question
sets, and eight participants: two careful raters, a straight-liner, a gold failer, a speeder,
one half-way through, one who declined and one who only opened the link. The ``desk_study``
fixture of ``conftest.py`` builds it for each test of the results package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from surveys import models as m
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

LABELS = ("ProtoPool (focal)", "ProtoPool (ProtoPNet similarity)", "ProtoTree")
# The map anchors are put on the exclusion path here (they are off it by default), so that the
# gold failer, who fails the background anchor, is removed by a rule of their own.
RULES = {"max_gold_failures": 0, "max_anchor_failures": 0, "straightline_min_answers": 6,
         "min_median_rt_ms": 1000}  # fmt: skip
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
