"""Simulated participants take a study over HTTP and the export recovers the model they follow.

The study's stimuli carry stored measures and distinct pictures, as rendered ones do; the
participants go through the live server's survey with the same code as ``manage.py demo
--simulate`` (:mod:`surveys.platform.simulation`), then the study is exported and its report's
People versus metrics section is read back. Think times are scaled down (tens of
milliseconds) with the speed rule scaled alike, so the careless raters' speed is what the rule
catches, as in the demo.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.files.base import ContentFile

from analysis.human_vs_objective import human_vs_objective
from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import (
    QuestionKind,
    QuestionSetItem,
    Response,
    Stimulus,
    Study,
    StudyStatus,
)
from surveys.platform.simulated_participant import WalkError, walk_study
from surveys.platform.simulated_raters import (
    Picture,
    RaterModel,
    picture_key,
    simulated_raters,
    stimulus_effects,
)
from surveys.platform.simulation import do_simulate_participants, picture_table, pid
from surveys.results.exports import do_export_results
from surveys.studies.quality import INSTRUCTION
from tests.surveys.factories import (
    ConditionFactory,
    PrototypeFactory,
    QuestionFactory,
    QuestionSetFactory,
    RunFactory,
    StimulusFactory,
    StudyFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db(transaction=True)

METHODS = ("Method A", "Method B", "Method C")
IMAGES = 18
PARTICIPANTS = 15
BETA = 1.0
# Scaled-down times: attentive raters ~40 ms after the unlock, careless ones ~4 ms, and the
# study's speed rule at 20 ms between them.
MODEL = RaterModel(
    beta=BETA,
    careless_fraction=0.2,
    attentive_think_s=0.04,
    careless_think_s=0.004,
    think_sdlog=0.1,
    seed=3,
)
RULES = {"max_gold_failures": None, "min_median_rt_ms": 20, "straightline_share": None}


def _pictures(number: int) -> dict[str, ContentFile[bytes]]:
    """Two pictures no other stimulus has (the first channel counts the stimuli)."""
    return {
        "original": ContentFile(png_bytes((number, 40, 200), 12), name="o.png"),
        "overlay": ContentFile(png_bytes((number, 220, 30), 12), name="v.png"),
    }


def _measured_study() -> Study:
    """An open Latin-square study: each image under each method, measured stimuli, and two
    instructed items in every set."""
    rng = np.random.default_rng(11)
    study = StudyFactory(
        status=StudyStatus.OPEN,
        min_seconds_per_question=0,
        participants_wanted=100,
        exclusion_rules=RULES,
    )
    by_method = []
    number = 0
    for position, label in enumerate(METHODS):
        condition = ConditionFactory(
            study=study, run=RunFactory(label=f"{label} run"), label=label, position=position
        )
        prototypes = [PrototypeFactory(run=condition.run) for _ in range(6)]
        questions = []
        for image in range(IMAGES):
            number += 1
            stimulus = StimulusFactory(
                study=study,
                condition=condition,
                prototype=prototypes[image % len(prototypes)],
                image_id=f"birds/img_{image}.png",
                measures={
                    "energy_in_part": float(rng.beta(2, 3)),
                    "entropy": float(rng.uniform(0.6, 0.95)),
                },
                **_pictures(number),
            )
            questions.append(QuestionFactory(study=study, stimulus=stimulus))
        by_method.append(questions)
    instructed = []
    for answer in (2, 4):
        number += 1
        stimulus = StimulusFactory(
            study=study,
            condition=study.conditions.first(),
            image_id=f"birds/spare_{answer}.png",
            measures={"energy_in_part": 0.5, "entropy": 0.8},
            **_pictures(number),
        )
        instructed.append(
            QuestionFactory(
                study=study,
                stimulus=stimulus,
                kind=QuestionKind.INSTRUCTED,
                gold_expected=answer,
                instruction=INSTRUCTION.format(answer=answer),
            )
        )
    for cell in range(len(METHODS)):
        question_set = QuestionSetFactory(study=study, index=cell)
        chosen = [by_method[(i + cell) % len(METHODS)][i] for i in range(IMAGES)]
        for question in [*chosen, *instructed]:
            QuestionSetItem.objects.create(question_set=question_set, question=question)
    return study


def test_simulated_participants_over_http_recover_the_generating_slope(
    live_server, media: Path, tmp_path: Path
):
    # given a measured study, when simulated participants take it through the live survey
    study = _measured_study()
    lines: list[str] = []
    summary = do_simulate_participants(
        live_server.url, study, PARTICIPANTS, MODEL, lines.append, workers=1
    )
    # then every one of them completed every question, and a fifth of them were careless
    assert summary.walked == summary.completed == PARTICIPANTS
    assert summary.careless == len(summary.careless_ids) == round(0.2 * PARTICIPANTS)
    assert Response.objects.filter(participant__study=study).count() == PARTICIPANTS * (IMAGES + 2)

    # when the study is exported with its report
    exported = do_export_results(study, tmp_path / "results")
    assert not exported.report_note
    report = tmp_path / "results" / "report"
    responses = pd.read_csv(tmp_path / "results" / "responses.csv")
    participants = pd.read_csv(tmp_path / "results" / "participants.csv", keep_default_na=False)
    # then the speed rule removed exactly the careless raters
    key = pseudonym_key(study)
    careless = {pseudonym(external, key) for external in summary.careless_ids}
    removed = set(participants.loc[participants["excluded_by_rule"] != "", "participant"])
    assert removed == careless
    assert set(
        participants.loc[participants["participant"].isin(careless), "excluded_by_rule"]
    ) == {"too fast (participant median)"}
    # and the attentive raters gave every instructed item the answer it asked for
    attentive = responses[~responses["participant"].isin(careless)]
    instructed = attentive[attentive["question_kind"] == "instructed"]
    assert len(instructed) == 2 * (PARTICIPANTS - len(careless))
    assert (instructed["score"] == instructed["gold_expected"]).all()
    # and the report's within-method slope of the driving measure covers the simulated one
    assert "## People versus metrics" in (report / "report.md").read_text()
    slopes = pd.read_csv(report / "human_vs_objective_slopes.csv").set_index("measure")
    slope = slopes.loc["m_energy_in_part"]
    assert slope["ci_low"] <= BETA <= slope["ci_high"]
    assert slope["ci_low"] > 0
    # and the measure that does not drive the ratings has no slope beyond chance
    entropy = slopes.loc["m_entropy"]
    assert entropy["ci_low"] <= 0 <= entropy["ci_high"]

    # when the careless raters are kept, they pull the slope towards zero
    everyone = human_vs_objective(responses, ["m_energy_in_part"], n_resamples=100, n_splits=20)
    assert 0 < everyone.slopes.iloc[0]["estimate"] < slope["estimate"]


def test_a_study_with_its_participants_is_topped_up_not_crowded(live_server, media: Path):
    # given a study that 4 of 5 simulated participants have already completed
    study = _measured_study()
    do_simulate_participants(live_server.url, study, 4, MODEL, lambda _line: None, workers=1)
    # when 5 are asked for, only the fifth takes it, under the next participant ID
    summary = do_simulate_participants(
        live_server.url, study, 5, MODEL, lambda _line: None, workers=1
    )
    assert (summary.walked, summary.completed) == (1, 5)
    assert study.participants.filter(external_id=pid(4)).exists()
    # and when the same number is asked for again nobody takes it
    again = do_simulate_participants(
        live_server.url, study, 5, MODEL, lambda _line: None, workers=1
    )
    assert (again.walked, again.completed) == (0, 5)


def test_a_participant_answering_before_the_minimum_time_is_refused_with_the_reason(
    live_server, media: Path
):
    study = _measured_study()
    Study.objects.filter(pk=study.pk).update(min_seconds_per_question=30)
    # the walker is told the minimum is 0 s, so it answers at once: the server says no
    with pytest.raises(WalkError, match="refused the answer.*at least 30 seconds"):
        walk_study(live_server.url, study.code, "too-quick", min_seconds=0)


def _shown(stimulus: Stimulus) -> Picture:
    with stimulus.original.open("rb") as original, stimulus.overlay.open("rb") as overlay:
        return Picture(original.read(), overlay.read())


def test_a_raters_answers_follow_the_picture_not_the_order_of_the_questions(media: Path):
    study = _measured_study()
    table = picture_table(study)
    # one row per distinct pair of pictures; the instructed items' are not regular
    assert len(table) == len(METHODS) * IMAGES + 2
    assert int(table["regular"].sum()) == len(METHODS) * IMAGES
    effects = stimulus_effects(table, MODEL)
    shown = [_shown(s) for s in study.stimuli.order_by("id")[:6]]
    attentive = RaterModel(careless_fraction=0.0, seed=MODEL.seed)
    forward = simulated_raters([0], 1, attentive, effects)[0]
    backward = simulated_raters([0], 1, attentive, effects)[0]
    scores = [forward.rate(picture).score for picture in shown]
    assert [backward.rate(picture).score for picture in reversed(shown)] == scores[::-1]
    # an attentive rater follows an instruction whatever the picture shows
    assert forward.rate(replace(shown[0], instructed=4)).score == 4
    with pytest.raises(KeyError, match="no known stimulus"):
        forward.rate(Picture(b"not", b"shown"))


def test_the_model_rates_the_measure_in_sds_over_the_regular_stimuli(media: Path):
    table = picture_table(_measured_study())
    regular = table[table["regular"]]
    values = regular["energy_in_part"].to_numpy()
    z = (values - values.mean()) / values.std(ddof=1)
    exact = stimulus_effects(table, RaterModel(beta=2.0, item_sd=0.0, image_sd=0.0))
    assert np.allclose([exact[key] for key in regular["key"]], 2.0 * z)
    assert all(picture_key(b"a", b"b") != key for key in exact)


def test_a_measure_that_does_not_vary_cannot_drive_the_raters(media: Path):
    table = pd.DataFrame(
        {"key": ["a", "b"], "method": ["A", "B"], "image": ["1", "1"], "regular": [True, True]}
    ).assign(energy_in_part=0.4)
    with pytest.raises(ValueError, match="does not vary"):
        stimulus_effects(table, RaterModel())
    with pytest.raises(ValueError, match="lacks"):
        stimulus_effects(table.drop(columns="image"), RaterModel())
