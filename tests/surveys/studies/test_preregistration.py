"""The pre-registration: checked with the spec, frozen with its SHA-256 when the study opens,
never changed by a later spec, shown on the study page and downloadable as AsPredicted text."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from surveys.common.checks import SpecError
from surveys.models import Study, StudyStatus
from surveys.studies.lifecycle import do_close_study, do_open_study, do_save_study
from surveys.studies.spec import check_study_spec
from tests.surveys.studies.fixtures import spec_data

pytestmark = pytest.mark.django_db

PREREG: dict[str, Any] = {
    "hypotheses": [
        {
            "id": "H1",
            "statement": "Focal prototypes are rated more salient than ProtoTree's.",
            "compare": ["ProtoPool", "ProtoTree"],
            "direction": "greater",
        }
    ],
    "primary_test": {"model": "primary_model", "reference": "ProtoTree", "slopes": False},
    "alpha": 0.05,
    "multiplicity": "holm",
    "sample_size": {
        "participants": 6,
        "target_power": 0.8,
        "effect_log_odds": 0.8,
        "justification": "python -m analysis power ... : 6 participants reach 0.8.",
    },
    "stopping_rule": "Stop at 6 completed participants or after 7 days.",
    "exclusions": "By the declared rules, before looking at outcomes.",
    "replacement": "replace",
}


def _spec(**overrides: Any) -> dict[str, Any]:
    return spec_data(**{"preregistration": copy.deepcopy(PREREG), **overrides})


def _opened(**overrides: Any) -> Study:
    study = do_save_study(check_study_spec(_spec(**overrides))).study
    # Rendering is tested elsewhere; a study opens once its stimuli are all rendered.
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.READY)
    study.refresh_from_db()
    do_open_study(study)
    study.refresh_from_db()
    return study


def test_opening_freezes_the_plan_with_the_sha256_of_its_canonical_text(catalogue):
    # given a draft with a pre-registration: nothing is frozen yet
    draft = do_save_study(check_study_spec(_spec())).study
    assert draft.preregistration_sha256 == "" and draft.preregistered_at is None
    declared = draft.preregistration

    study = _opened()

    # then the canonical text is the declared plan as JSON with sorted keys and no whitespace,
    # and its hash is recomputed here from that definition, not by the code under test
    text = json.dumps(declared, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert study.preregistration_text == text
    assert study.preregistration_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert study.preregistered_at is not None
    plan = json.loads(study.preregistration_text)
    assert plan["preregistration"]["hypotheses"][0]["compare"] == ["ProtoPool", "ProtoTree"]
    assert plan["exclusion_rules"]["max_gold_failures"] == 1
    assert plan["design"]["prototype_rule"] == "random"
    assert [c["label"] for c in plan["design"]["conditions"]] == [
        "ProtoPool",
        "ProtoPNet-sim",
        "ProtoTree",
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"preregistration": {**PREREG, "alpha": 0.01}},
        {"exclusion_rules": {"max_gold_failures": 3}},
        {"participants_wanted": 7, "preregistration": {
            **PREREG, "sample_size": {**PREREG["sample_size"], "participants": 7}}},
    ],
)  # fmt: skip
def test_the_spec_can_no_longer_change_a_frozen_plan(catalogue, change: dict[str, Any]):
    study = _opened()
    frozen = (study.preregistration_text, study.preregistration_sha256)
    do_close_study(study)

    with pytest.raises(SpecError, match="froze its plan .* it can no longer change") as caught:
        do_save_study(check_study_spec(_spec(**change)))

    assert caught.value.problems[0].field == "preregistration"
    assert study.preregistration_sha256[:12] in str(caught.value)
    study.refresh_from_db()
    assert (study.preregistration_text, study.preregistration_sha256) == frozen


def test_the_same_spec_still_saves_after_freezing(catalogue):
    study = _opened()
    do_close_study(study)

    result = do_save_study(check_study_spec(_spec()))

    assert not result.redesigned
    result.study.refresh_from_db()
    assert result.study.preregistration_sha256 == study.preregistration_sha256


def test_reopening_keeps_the_frozen_plan_and_records_a_deviation(catalogue):
    study = _opened()
    sha, frozen_at = study.preregistration_sha256, study.preregistered_at
    do_close_study(study)

    do_open_study(study)

    study.refresh_from_db()
    assert (study.preregistration_sha256, study.preregistered_at) == (sha, frozen_at)
    [event] = study.protocol_events
    assert event["kind"] == "reopened" and "reopened after it had been closed" in event["detail"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({**PREREG, "hypotheses": []}, "hypotheses: list at least one"),
        ({**PREREG, "hypotheses": [{"id": "H1", "statement": "x", "compare": ["ProtoPool", "DINO"],
                                    "direction": "greater"}]},
         r"compare: give two different condition labels"),
        ({**PREREG, "hypotheses": [{**PREREG["hypotheses"][0], "direction": "up"}]},
         "direction: must be one of greater, less, two_sided"),
        ({**PREREG, "primary_test": {"model": "t_test"}}, "model: must be one of primary_model"),
        ({**PREREG, "multiplicity": "none"}, "multiplicity: must be one of holm"),
        ({**PREREG, "alpha": 0.5}, "alpha: must be between"),
        ({k: v for k, v in PREREG.items() if k != "replacement"}, "replacement: say what happens"),
        ({k: v for k, v in PREREG.items() if k != "stopping_rule"}, "stopping_rule: is required"),
        ({**PREREG, "sample_size": {"participants": 9, "justification": "x"}},
         "plans 9 participants but participants_wanted is 6"),
        ({**PREREG, "typo": 1}, "preregistration.typo: unknown field"),
    ],
)  # fmt: skip
def test_a_bad_section_is_refused_field_by_field(catalogue, section, message: str):
    with pytest.raises(SpecError, match=message):
        check_study_spec(spec_data(preregistration=section))


def test_the_planned_sample_is_the_default_participants_wanted(catalogue):
    data = _spec()
    del data["participants_wanted"]
    assert check_study_spec(data).participants_wanted == 6


def test_the_study_page_shows_the_hash_and_time_and_offers_the_text(
    catalogue, staff_client: Client
):
    study = _opened()

    page = staff_client.get(reverse("surveys:study_detail", args=[study.slug])).content.decode()
    text = staff_client.get(reverse("surveys:study_preregistration", args=[study.slug]))

    assert study.preregistration_sha256 in page and 'data-plan="frozen"' in page
    assert study.preregistered_at.strftime("%Y-%m-%d %H:%M:%S") in page
    assert text.status_code == 200 and text["Content-Type"].startswith("text/plain")
    assert 'filename="tiny-study-preregistration.txt"' in text["Content-Disposition"]
    body = text.content.decode()
    for number in range(1, 10):
        assert f"\n{number}) " in f"\n{body}", number
    assert "H1: Focal prototypes are rated more salient" in body
    assert "[ProtoPool vs ProtoTree, greater]" in body
    assert "holm-adjusted, alpha = 0.05" in body
    assert f"Frozen plan SHA-256: {study.preregistration_sha256}" in body
    assert "Replacement: an excluded participant's place is offered again" in body


def test_a_drafts_text_says_it_is_not_frozen(catalogue, staff_client: Client):
    study = do_save_study(check_study_spec(_spec())).study

    page = staff_client.get(reverse("surveys:study_detail", args=[study.slug])).content.decode()
    text = staff_client.get(reverse("surveys:study_preregistration", args=[study.slug]))

    assert 'data-plan="draft"' in page and "Not frozen yet" in page
    assert text.content.decode().startswith("DRAFT: this plan is not frozen yet.")
    assert "preregistration-draft.txt" in text["Content-Disposition"]
