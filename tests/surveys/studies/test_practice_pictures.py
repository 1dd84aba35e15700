"""Practice pictures: one near each end of the scale, rendered at build time on images no
question of the study shows, and the only pictures the instructions page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from surveys.models import Question, Stimulus, StimulusStatus, Study, StudyStatus
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.practice import access_practice
from surveys.studies.spec import check_study_spec
from tests.surveys.participation.fixtures import build_study
from tests.surveys.studies.fixtures import spec_data

pytestmark = pytest.mark.django_db

_PICTURES = re.compile(r'<img src="([^"]+)" alt="([^"]+)"')


def _built(django_capture_on_commit_callbacks, **overrides: object) -> Study:
    study = do_save_study(check_study_spec(spec_data(**overrides))).study
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.OPEN)
    study.refresh_from_db()
    return study


def _instructions(client: Client, study: Study) -> str:
    consent = client.get(f"/s/{study.code}/", follow=True)
    assert consent.status_code == 200
    response = client.post(consent.redirect_chain[-1][0], {"decision": "agree"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("/instructions/")
    return response.content.decode()


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return bytes(handle.read())


def test_the_design_puts_two_practice_pictures_on_images_no_question_shows(catalogue):
    # given two datasets, so that no image of either may be a practice picture
    conditions = [
        {"run": "ProtoPool (focal)", "label": "ProtoPool", "dataset": "Birds-A"},
        {"run": "ProtoPool (ProtoPNet similarity)", "label": "ProtoPNet-sim", "dataset": "Birds-A"},
        {"run": "ProtoTree", "label": "ProtoTree", "dataset": "Birds-B"},
    ]
    result = do_save_study(
        check_study_spec(spec_data(conditions=conditions, questions_per_dataset=4))
    )
    practice = Stimulus.objects.filter(study=result.study, practice=True)
    # then there are two, a map on the object (near 5) and one on the background (near 1)
    assert sorted(practice.values_list("map_override", flat=True)) == ["background", "object"]
    assert not Question.objects.filter(stimulus__in=practice).exists()
    # on images no question of the study shows, under any condition or kind
    shown = set(
        Question.objects.filter(study=result.study).values_list("stimulus__image_id", flat=True)
    )
    assert shown and not shown & set(practice.values_list("image_id", flat=True))
    assert len(set(practice.values_list("image_id", flat=True))) == 2
    assert any("two practice pictures" in note for note in result.notes)


def test_the_instructions_show_the_practice_pictures_and_never_a_study_image(
    catalogue, media: Path, eager: None, django_capture_on_commit_callbacks
):
    study = _built(django_capture_on_commit_callbacks)
    practice = access_practice(study)
    assert [p.end for p in practice] == ["high", "low"]
    assert all(p.stimulus.status == StimulusStatus.DONE for p in practice)

    client = Client()
    page = _instructions(client, study)
    pictures = _PICTURES.findall(page)
    assert len(pictures) == 4
    assert "A picture near 5 (most salient)" in page and "A picture near 1 (least salient)" in page
    practice_files = {
        _read(n) for p in practice for n in (p.stimulus.original.name, p.stimulus.overlay.name)
    }
    study_files = {
        _read(name)
        for pair in Stimulus.objects.filter(study=study, practice=False).values_list(
            "original", "overlay"
        )
        for name in pair
    }
    served = []
    for url, _alt in pictures:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        served.append(b"".join(response.streaming_content))
    # every picture served is a practice file, and none is any question's file
    assert set(served) == practice_files
    assert not set(served) & study_files
    # and the page names no file, image, run or method
    for stimulus in Stimulus.objects.filter(study=study):
        for secret in (stimulus.original.name, stimulus.image_id, stimulus.condition.label):
            assert secret not in page


def test_a_study_without_practice_pictures_shows_none_and_borrows_no_study_image(media: Path):
    # given a study whose cells differ, so a regular stimulus lies outside some participant's set
    built = build_study(cells=2)
    client = Client()
    page = _instructions(client, built.study)
    assert _PICTURES.findall(page) == [] and "practice" not in page.lower()
    # and the practice picture URLs answer 404, never with a study picture
    participant = built.study.participants.get()
    base = f"/s/{built.study.code}/p/{participant.code}/practice"
    for end in ("high", "low"):
        assert client.get(f"{base}/{end}/overlay").status_code == 404


def test_a_practice_picture_url_serves_only_its_own_end_and_kind(media: Path):
    built = build_study(practice=True)
    client = Client()
    _instructions(client, built.study)
    participant = built.study.participants.get()
    base = f"/s/{built.study.code}/p/{participant.code}/practice"
    high = Stimulus.objects.get(study=built.study, practice=True, map_override="object")
    response = client.get(f"{base}/high/overlay")
    assert b"".join(response.streaming_content) == _read(high.overlay.name)
    assert "Content-Disposition" not in response.headers
    for bad in (f"{base}/middle/overlay", f"{base}/high/box"):
        assert client.get(bad).status_code == 404
