"""The researcher's study pages: staff only, the new-study form (bad input is a 400 that stores
nothing), the build with its htmx progress fragment, and opening and closing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from surveys.models import Stimulus, StimulusStatus, Study, StudyStatus
from surveys.studies.forms import DEFAULT_CONSENT, DEFAULT_DEBRIEF, DEFAULT_INSTRUCTIONS
from surveys.studies.lifecycle import do_save_study
from surveys.studies.spec import check_study_spec
from tests.surveys.factories import StudyFactory
from tests.surveys.studies.fixtures import spec_data

pytestmark = pytest.mark.django_db

GET_PAGES = ["studies", "study_new", "study_detail", "study_progress"]
POST_ACTIONS = ["study_build", "study_open", "study_close"]


@pytest.fixture
def study(catalogue) -> Study:
    return do_save_study(check_study_spec(spec_data())).study


def _url(name: str, study: Study) -> str:
    if name in ("studies", "study_new"):
        return reverse(f"surveys:{name}")
    return reverse(f"surveys:{name}", args=[study.slug])


@pytest.mark.parametrize("name", GET_PAGES)
def test_staff_see_every_page(staff_client: Client, study: Study, name: str):
    response = staff_client.get(_url(name, study))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("name", GET_PAGES + POST_ACTIONS)
@pytest.mark.parametrize("who", ["anonymous", "non_staff"])
def test_everyone_else_is_sent_to_the_login(
    client: Client, non_staff_client: Client, study: Study, name: str, who: str
):
    visitor = client if who == "anonymous" else non_staff_client
    method = visitor.post if name in POST_ACTIONS else visitor.get
    response = method(_url(name, study))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    study.refresh_from_db()
    assert study.status == StudyStatus.DRAFT


@pytest.mark.parametrize("name", POST_ACTIONS)
def test_actions_refuse_get(staff_client: Client, study: Study, name: str):
    assert staff_client.get(_url(name, study)).status_code == 405


def test_a_study_without_a_design_still_has_its_page(staff_client: Client, db):
    bare = StudyFactory()
    response = staff_client.get(reverse("surveys:study_detail", args=[bare.slug]))
    assert response.status_code == 200
    assert "No design yet" in response.content.decode()


def test_an_unknown_study_is_404(staff_client: Client, db):
    assert staff_client.get(reverse("surveys:study_detail", args=["nope"])).status_code == 404


def _form(catalogue: dict, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Form study",
        "slug": "form-study",
        "questions_per_dataset": "6",
        "seed": "3",
        "split": "test",
        "style": "configs/styles/study-default.yaml",
        "gold_share": "0.1",
        "participants_wanted": "9",
        "min_seconds_per_question": "1.5",
        "estimated_minutes": "8",
        "reward": "1.20",
        "currency": "EUR",
        "recruiter": "link",
        "consent": DEFAULT_CONSENT,
        "instructions": DEFAULT_INSTRUCTIONS,
        "debrief": DEFAULT_DEBRIEF,
        "exclusion_rules": "max_gold_failures: 1\n",
        "conditions-TOTAL_FORMS": "3",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "12",
        "conditions-0-run": catalogue["pool"].code,
        "conditions-0-label": "ProtoPool",
        "conditions-1-run": catalogue["tree"].code,
        "conditions-1-label": "ProtoTree",
        "conditions-2-run": "",
        "conditions-2-label": "",
    }
    data.update(changes)
    return data


def test_the_form_offers_the_catalogues_runs(staff_client: Client, catalogue):
    page = staff_client.get(reverse("surveys:study_new")).content.decode()
    for run in catalogue.values():
        assert run.code in page and run.label in page


def test_the_form_creates_a_draft_with_its_design(staff_client: Client, catalogue):
    response = staff_client.post(reverse("surveys:study_new"), _form(catalogue))
    assert response.status_code == 302, response.content.decode()[:2000]
    study = Study.objects.get(slug="form-study")
    assert response["Location"] == reverse("surveys:study_detail", args=[study.slug])
    assert study.status == StudyStatus.DRAFT and study.created_by.username == "researcher"
    assert list(study.conditions.values_list("label", flat=True)) == ["ProtoPool", "ProtoTree"]
    assert study.currency == "EUR" and study.exclusion_rules["max_gold_failures"] == 1
    # regular, two anchors, two instructed items and two practice pictures
    assert study.stimuli.filter(status=StimulusStatus.PENDING).count() == 6 * 2 + 6


def test_the_form_sets_up_a_recruiter_with_its_settings(
    staff_client: Client,
    catalogue,
):
    settings_yaml = "id_parameter: sona_id\ncompletion_url: https://panel.example.org/done?c={code}"
    response = staff_client.post(
        reverse("surveys:study_new"),
        _form(catalogue, recruiter="panel", recruiter_config=settings_yaml),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    study = Study.objects.get(slug="form-study")
    assert study.recruiter == "panel"
    assert study.recruiter_config["id_parameter"] == "sona_id"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "This field is required"),
        ({"gold_share": "0.9"}, "less than or equal to 0.5"),
        ({"conditions-0-run": "nosuchcode"}, "Select a valid choice"),
        ({"conditions-0-label": ""}, "is required"),
        (
            {
                "conditions-0-run": "",
                "conditions-0-label": "",
                "conditions-1-run": "",
                "conditions-1-label": "",
            },
            "at least one condition",
        ),
        ({"style": "colormap: [unclosed"}, "not valid YAML"),
        ({"style": "colormap: nosuchmap"}, "is not a matplotlib colormap"),
        ({"exclusion_rules": "max_gold_fails: 1"}, "unknown field"),
        ({"questions_per_dataset": "50"}, "lower questions_per_dataset"),
        ({"currency": "eu"}, "3-letter ISO code"),
        ({"slug": "new"}, "reserved"),
        ({"recruiter": "panel", "recruiter_config": "record: [x]"}, "id_parameter"),
        ({"recruiter": "link", "recruiter_config": "study_id: x"}, "takes no settings"),
    ],
)
def test_bad_form_input_is_a_400_that_stores_nothing(
    staff_client: Client,
    catalogue,
    changes: dict[str, str],
    message: str,
):
    response = staff_client.post(reverse("surveys:study_new"), _form(catalogue, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Study.objects.exists() and not Stimulus.objects.exists()


def test_a_taken_slug_is_refused_by_the_form(staff_client: Client, study: Study, catalogue):
    response = staff_client.post(reverse("surveys:study_new"), _form(catalogue, slug=study.slug))
    assert response.status_code == 400
    assert "pick another slug" in response.content.decode()
    assert Study.objects.count() == 1


def test_the_detail_page_summarises_the_design(staff_client: Client, study: Study):
    page = staff_client.get(_url("study_detail", study)).content.decode()
    expected = [
        *("ProtoPool", "ProtoPNet-sim", "ProtoTree", "Question sets", "Gold trials"),
        *("Please select 2 for this picture.", "Latin square"),
        *("0</strong> of 24 stimuli rendered", ">Build<"),
    ]
    for text in expected:
        assert text in page, text


def test_building_from_the_page_renders_and_the_fragment_stops_polling(
    staff_client: Client,
    study: Study,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
):
    # while building, the fragment polls itself every second
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.BUILDING)
    fragment = staff_client.get(_url("study_progress", study), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    assert "HX-Refresh" not in fragment
    assert 'aria-valuenow="0"' in fragment.content.decode()
    # when the researcher presses Build (the tasks run in this process here)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(_url("study_build", study))
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    # then the next poll shows the full bar, stops polling and reloads the page
    fragment = staff_client.get(_url("study_progress", study), HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "hx-trigger" not in body and fragment["HX-Refresh"] == "true"
    assert 'aria-valuenow="24"' in body and "24</strong> of 24" in body


def test_a_study_opens_only_when_ready_and_closes_when_open(staff_client: Client, study: Study):
    # a draft cannot open: a 409 that says why
    response = staff_client.post(_url("study_open", study))
    assert response.status_code == 409
    assert "build it first" in response.content.decode()
    study.refresh_from_db()
    assert study.status == StudyStatus.DRAFT
    # nor close
    assert staff_client.post(_url("study_close", study)).status_code == 409
    # once ready it opens, and the page shows the plain participant link
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.READY)
    assert staff_client.post(_url("study_open", study)).status_code == 302
    study.refresh_from_db()
    assert study.status == StudyStatus.OPEN
    page = staff_client.get(_url("study_detail", study)).content.decode()
    assert f"/s/{study.code}/" in page
    # an open study's stimuli are final
    assert staff_client.post(_url("study_build", study)).status_code == 409
    assert staff_client.post(_url("study_close", study)).status_code == 302
    study.refresh_from_db()
    assert study.status == StudyStatus.CLOSED


def test_the_list_shows_status_and_progress(staff_client: Client, study: Study):
    Stimulus.objects.filter(pk__in=study.stimuli.values("pk")[:5]).update(
        status=StimulusStatus.DONE
    )
    Stimulus.objects.filter(pk=study.stimuli.filter(status="pending").first().pk).update(
        status=StimulusStatus.FAILED
    )
    page = staff_client.get(reverse("surveys:studies")).content.decode()
    assert study.title in page and "Draft" in page
    assert "5/24" in page and "1 failed" in page
