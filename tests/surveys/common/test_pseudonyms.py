"""Pseudonyms are keyed per study: stable within a study, unrelated across studies.

With one key for every study, the same Prolific or MTurk worker had the same pseudonym in the
exports of every study, so shared data sets could be joined to follow one person across them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from surveys.common.pseudonyms import PREFIX, pseudonym, pseudonym_key, secret_key
from surveys.models import Study
from surveys.results.exports import ExportKind, csv_download
from tests.surveys.participation.fixtures import answer_all, build_study, consented

WORKER = "5f1e2d3c4b5a69788796a5b4"


def _exported(study: Study, kind: ExportKind) -> set[str]:
    _, chunks = csv_download(study, kind)
    return {row["participant"] for row in csv.DictReader(io.StringIO("".join(chunks)))}


def test_a_study_key_depends_on_the_study_and_the_secret(settings) -> None:
    settings.SECRET_KEY, settings.PSEUDONYM_KEY = "secret-one", ""
    first, second = Study(code="studyaaaa"), Study(code="studybbbb")

    assert pseudonym_key(first) == pseudonym_key(Study(code="studyaaaa"))
    assert pseudonym_key(first) != pseudonym_key(second)
    assert pseudonym(WORKER, pseudonym_key(first)) != pseudonym(WORKER, pseudonym_key(second))
    # and the secret still matters: the study's code alone (public, in its link) is not enough
    key = pseudonym_key(first)
    settings.PSEUDONYM_KEY = "secret-two"
    assert pseudonym_key(first) != key
    assert pseudonym_key(first, secret_key()) == pseudonym_key(first)


def test_a_pseudonym_never_shows_the_raw_id() -> None:
    name = pseudonym(WORKER, pseudonym_key(Study(code="studyaaaa")))
    assert name.startswith(PREFIX) and WORKER not in name


@pytest.mark.django_db
def test_the_same_worker_gets_unrelated_pseudonyms_in_two_studies(media: Path) -> None:
    # given one worker who took two studies
    studies = [build_study(per_condition=1, cells=1).study for _ in range(2)]
    for study in studies:
        answer_all(consented(study, WORKER))

    # when each study's responses and participants are exported (twice, on different days)
    names = []
    for study in studies:
        responses = _exported(study, ExportKind.RESPONSES)
        participants = _exported(study, ExportKind.PARTICIPANTS)
        # then within a study the worker has one pseudonym, in every table and every export
        assert len(responses) == 1 and responses == participants
        assert _exported(study, ExportKind.RESPONSES) == responses
        names.append(responses.pop())

    # and the two studies' pseudonyms differ, so the exports cannot be joined on them
    assert names[0] != names[1]
    assert all(WORKER not in name for name in names)
