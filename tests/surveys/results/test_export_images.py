"""The responses export says which picture was rated: ``image`` (shared) and ``item`` (stimulus).

The study here is a two-condition Latin square: four dataset images, each rendered under both
conditions (eight stimuli), dealt into two question sets so that each participant sees every
image once, under one condition or the other; a fifth image is an instructed gold trial in both
sets. One image id is all digits ("007"), so that reading it back as a number would show.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import analysis
from analysis.design import describe_design
from surveys import models as m
from surveys.common.files import write_csv_atomic
from surveys.results.exports import ExportKind, csv_download
from surveys.results.responses import (
    RESPONSE_COLUMNS,
    iter_response_rows,
    responses_frame,
)
from tests.surveys.factories import (
    ConditionFactory,
    ParticipantFactory,
    QuestionFactory,
    QuestionSetFactory,
    ResponseFactory,
    RunFactory,
    StudyFactory,
)
from tests.surveys.results.readback import read_responses_csv
from tests.surveys.storage import private_media

IMAGES = ("007", "001.Bird/img_b.png", "001.Bird/img_c.png", "002.Bird/img_d.png")
GOLD_IMAGE = "002.Bird/img_gold.png"
LABELS = ("Method A", "Method B")


def build_latin_square() -> tuple[m.Study, dict[tuple[str, str], m.Question], m.Question]:
    """The study of the module docstring; (image, label) -> question, and the gold question."""
    study = StudyFactory(slug="latin-square", exclusion_rules={"max_gold_failures": None})
    conditions = [
        ConditionFactory(study=study, run=RunFactory(label=f"{label} run"), label=label,
                         dataset="SynthBirds", position=i)
        for i, label in enumerate(LABELS)
    ]  # fmt: skip
    questions = {
        (image, c.label): QuestionFactory(stimulus__condition=c, stimulus__image_id=image)
        for image in IMAGES
        for c in conditions
    }
    gold = QuestionFactory(stimulus__condition=conditions[0], stimulus__image_id=GOLD_IMAGE,
                           kind=m.QuestionKind.INSTRUCTED, gold_expected=5)  # fmt: skip
    for index in range(2):
        cell = QuestionSetFactory(study=study, index=index)
        # Image i is shown under condition (i + set) mod 2: each image once per participant.
        shown = [questions[(image, LABELS[(i + index) % 2])] for i, image in enumerate(IMAGES)]
        cell.questions.set([*shown, gold])
        for person in range(2):
            participant = ParticipantFactory(study=study, question_set=cell)
            for position, question in enumerate([*shown, gold]):
                score = 5 if question == gold else 1 + (position + person + index) % 5
                ResponseFactory(participant=participant, question=question, position=position,
                                score=score, client_rt_ms=3000, server_rt_ms=3100)  # fmt: skip
    return study, questions, gold


@pytest.fixture
def latin_square(db: None, settings: Any, tmp_path: Path):
    private_media(settings, tmp_path)
    return build_latin_square()


def _rows(study: m.Study) -> list[dict[str, str]]:
    _, chunks = csv_download(study, ExportKind.RESPONSES)
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def test_an_image_shown_under_two_conditions_has_one_image_and_two_items(latin_square) -> None:
    study, questions, _ = latin_square
    rows = _rows(study)

    assert list(rows[0]) == list(RESPONSE_COLUMNS)
    by_question = {r["question"]: r for r in rows}
    for image in IMAGES:
        a, b = (by_question[questions[(image, label)].code] for label in LABELS)
        assert a["image"] == b["image"] == image
        assert a["item"] != b["item"]
        for row, label in ((a, LABELS[0]), (b, LABELS[1])):
            stimulus = questions[(image, label)].stimulus
            # The item is the stimulus id, the key of the stimuli manifest.
            assert row["item"] == row["stimulus"] == str(stimulus.pk)
            assert row["method"] == label


def test_gold_trials_carry_their_own_stimulus_image_and_id(latin_square) -> None:
    study, _, gold = latin_square
    rows = [r for r in _rows(study) if r["question"] == gold.code]

    assert len(rows) == 4
    assert {(r["image"], r["item"], r["is_gold"]) for r in rows} == {
        (GOLD_IMAGE, str(gold.stimulus.pk), "True")
    }


def test_picture_columns_read_back_as_text_and_match_the_frame(latin_square, tmp_path) -> None:
    study, _, _ = latin_square
    path = tmp_path / "responses.csv"
    write_csv_atomic(path, RESPONSE_COLUMNS, iter_response_rows(study))

    back = read_responses_csv(path)
    frame = responses_frame(study)

    assert "007" in set(back["image"]), "an all-digit image id must not become the number 7"
    for column in ("image", "item"):
        assert all(isinstance(value, str) for value in back[column])
        assert back[column].tolist() == frame[column].tolist()
    # The frame keeps the stimulus id an integer, as before; item is its text.
    assert frame["item"].tolist() == frame["stimulus"].astype(str).tolist()


def test_the_analysis_sees_images_crossed_with_conditions(latin_square, tmp_path) -> None:
    study, _, _ = latin_square
    path = tmp_path / "responses.csv"
    write_csv_atomic(path, RESPONSE_COLUMNS, iter_response_rows(study))

    ratings = analysis.load_ratings(path)
    regular = ratings[~ratings["is_gold"].astype(bool)]
    design = describe_design(regular)

    assert design.structure == "crossed"
    assert (design.n_images, design.n_items, design.n_participants) == (4, 8, 4)
    assert design.items_differ_from_images
    # An image rated under both conditions is one category of the image column.
    counts = regular.groupby("image", observed=True)["method"].nunique()
    assert counts.to_dict() == dict.fromkeys(IMAGES, 2)


def test_an_unanswered_study_exports_the_picture_columns_in_the_header(db: None) -> None:
    study = StudyFactory()

    frame = responses_frame(study)

    assert frame.empty and list(frame.columns) == list(RESPONSE_COLUMNS)
    assert isinstance(frame, pd.DataFrame) and {"image", "item"} <= set(frame.columns)
