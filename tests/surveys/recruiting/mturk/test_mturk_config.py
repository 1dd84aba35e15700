"""A study's MTurk settings: defaults, qualification requirements (the right Masters ID for the
sandbox and production), batches of at most 9, bonus rules, the reward, and the study spec."""

from __future__ import annotations

from decimal import Decimal

import pytest

from surveys.recruiting.mturk.config import check_mturk_config
from surveys.recruiting.mturk.money import MTurkInputError, check_reward, fee
from surveys.recruiting.registry import RecruiterConfigError, get_recruiter
from surveys.studies.spec import SpecError, check_study_spec
from tests.surveys.factories import StudyFactory

SANDBOX_MASTERS = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
PRODUCTION_MASTERS = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
GUARD = "DiscoverPreviewAndAccept"


def test_no_settings_give_sandbox_hits_of_nine_with_a_95_percent_approval_rate():
    stored = get_recruiter("mturk").check_config({})
    assert stored["sandbox"] is True and stored["assignments_per_hit"] == 9
    assert stored["auto_sync"] is True and stored["bonus"] is None
    assert check_mturk_config(stored).qualification_requirements() == [
        {
            "QualificationTypeId": "000000000000000000L0",
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [95],
            "ActionsGuarded": GUARD,
        }
    ]


@pytest.mark.parametrize(
    ("sandbox", "masters_id"), [(True, SANDBOX_MASTERS), (False, PRODUCTION_MASTERS)]
)
def test_the_paper_s_workers_masters_by_mode_approval_count_and_locales(sandbox, masters_id):
    config = check_mturk_config(
        {
            "sandbox": sandbox,
            "masters": True,
            "approval_rate": 98,
            "approved_hits": 1000,
            "locales": ["us", "GB", "US-CA"],
            "repeat_qualification_id": "3TAKENSTUDY0000000000000000000",
        }
    )
    assert config.qualification_requirements() == [
        {"QualificationTypeId": masters_id, "Comparator": "Exists", "ActionsGuarded": GUARD},
        {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo",
         "IntegerValues": [98], "ActionsGuarded": GUARD},
        {"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThanOrEqualTo",
         "IntegerValues": [1000], "ActionsGuarded": GUARD},
        {"QualificationTypeId": "00000000000000000071", "Comparator": "In",
         "LocaleValues": [{"Country": "US"}, {"Country": "GB"},
                          {"Country": "US", "Subdivision": "CA"}],
         "ActionsGuarded": GUARD},
        {"QualificationTypeId": "3TAKENSTUDY0000000000000000000", "Comparator": "DoesNotExist",
         "ActionsGuarded": GUARD},
    ]  # fmt: skip


def test_the_approval_rate_can_be_switched_off():
    assert check_mturk_config({"approval_rate": None}).qualification_requirements() == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"assignments_per_hit": 10}, "20 % surcharge"),
        ({"assignments_per_hit": 0}, "at least 1"),
        ({"sandbox": "yes"}, "sandbox: must be true or false"),
        ({"approval_rate": 101}, "approval_rate: must be at most 100"),
        ({"locales": ["USA"]}, "not a country code"),
        ({"masters": 1}, "masters: must be true or false"),
        ({"lifetime_hours": 0}, "lifetime_hours: must be at least 1"),
        ({"auto_approval_delay_hours": 24 * 31}, "at most 720"),
        ({"title": "x" * 129}, "shorten it to 128"),
        ({"repeat_qualification_id": "not an id"}, "not a qualification type ID"),
        ({"bonus": {"amount": "0.505", "reason": "thanks"}}, "not an amount in dollars"),
        ({"bonus": {"amount": "0", "reason": "thanks"}}, "pays nothing"),
        ({"bonus": {"amount": "0.50"}}, "bonus.reason: is required"),
        ({"bonus": "0.50"}, "must be a mapping"),
        ({"frame_hieght": 600}, "frame_hieght: unknown field"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting_and_the_fix(config, message):
    with pytest.raises(RecruiterConfigError, match=message):
        check_mturk_config(config)


def test_keywords_may_be_a_list_and_a_bonus_rule_is_kept_as_text():
    stored = check_mturk_config(
        {"keywords": ["images", " rating "], "bonus": {"amount": 0.5, "reason": "Thanks!"}}
    ).to_dict()
    assert stored["keywords"] == "images, rating"
    assert stored["bonus"] == {"amount": "0.50", "reason": "Thanks!"}
    assert check_mturk_config(stored).bonus.amount == Decimal("0.50")


@pytest.mark.django_db
def test_the_study_spec_takes_mturk_settings_through_the_adapter():
    base = {
        "slug": "mt", "title": "MTurk", "conditions": [{"run": "none", "label": "A"}],
        "texts": {"consent": "c", "instructions": "i", "debrief": "d"}, "recruiter": "mturk",
    }  # fmt: skip
    with pytest.raises(SpecError, match="recruiter_config: assignments_per_hit: is 12"):
        check_study_spec({**base, "recruiter_config": {"assignments_per_hit": 12}})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reward", "currency", "message"),
    [
        (Decimal("2.40"), "GBP", "pays in GBP; Mechanical Turk pays only in USD"),
        (Decimal("0"), "USD", "cannot pay"),
        (Decimal("-1.00"), "USD", "cannot pay"),
        (Decimal("1.234"), "USD", "at most two decimals"),
    ],
)
def test_a_reward_mturk_cannot_pay_is_refused(reward, currency, message):
    study = StudyFactory.build(slug="pay", reward=reward, currency=currency)
    with pytest.raises(MTurkInputError, match=message):
        check_reward(study)


def test_fees_are_20_percent_plus_5_for_masters_at_least_a_cent():
    assert fee(Decimal("1.50")) == Decimal("0.30")
    assert fee(Decimal("1.50"), masters=True) == Decimal("0.38")  # 0.375 rounds half up
    assert fee(Decimal("0.02")) == Decimal("0.01")
