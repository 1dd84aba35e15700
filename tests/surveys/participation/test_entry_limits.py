"""New participants per study and client address, and per study, are limited (django-ratelimit
on the cache): over a limit the visitor gets a polite 429 with Retry-After and nothing is stored;
returning participants never count."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, RequestFactory

from surveys.models import Participant
from surveys.participation.ratelimits import UNKNOWN_ADDRESS, client_address
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def enter(study: Any, address: str = "192.0.2.1", client: Client | None = None, query: str = ""):
    return (client or Client()).get(f"/s/{study.code}/{query}", REMOTE_ADDR=address)


def test_one_address_gets_a_polite_429_past_its_limit_and_nothing_is_stored(settings: Any):
    settings.SURVEYS_ENTRY_RATE_PER_ADDRESS = "3/m"
    study = build_study(participants_wanted=100).study
    browsers = [Client() for _ in range(3)]
    assert all(enter(study, client=b).status_code == 302 for b in browsers)

    refused = enter(study)

    assert refused.status_code == 429
    assert b"try again in a few minutes" in refused.content.lower()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused["X-Robots-Tag"] == "noindex, nofollow"
    assert Participant.objects.count() == 3
    # Returning participants do not count, and another address is another budget.
    assert all(enter(study, client=b).status_code == 302 for b in browsers)
    assert enter(study, address="198.51.100.7").status_code == 302
    assert Participant.objects.count() == 4


def test_the_study_has_a_limit_across_addresses(settings: Any):
    settings.SURVEYS_ENTRY_RATE_PER_STUDY = "4/h"
    study, other = build_study(participants_wanted=100).study, build_study().study
    answers = [enter(study, address=f"203.0.113.{n}").status_code for n in range(1, 7)]
    assert answers == [302, 302, 302, 302, 429, 429]
    assert Participant.objects.filter(study=study).count() == 4
    # Each study counts its own newcomers.
    assert enter(other, address="203.0.113.9").status_code == 302


def test_refusals_and_polite_pages_use_up_no_entries(settings: Any):
    settings.SURVEYS_ENTRY_RATE_PER_ADDRESS = "1/m"
    study = build_study(participants_wanted=100).study
    for query in ("?pid=", "?pid=%3Cx%3E"):
        assert enter(study, query=query).status_code == 400
    assert enter(study, query="?pid=P1").status_code == 302
    assert enter(study, query="?pid=P1").status_code == 409  # another browser, P1's ID
    assert enter(study, query="?pid=P2").status_code == 429


def test_a_limit_that_is_off_admits_everyone(settings: Any):
    settings.SURVEYS_ENTRY_RATE_PER_ADDRESS = ""
    settings.SURVEYS_ENTRY_RATE_PER_STUDY = ""
    study = build_study(participants_wanted=100).study
    assert all(enter(study).status_code == 302 for _ in range(5))


def test_a_cache_that_fails_admits_the_participant(settings: Any, caplog: Any):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": "redis://127.0.0.1:9/0"},
    }  # fmt: skip
    try:
        study = build_study().study
        assert enter(study).status_code == 302
    finally:
        caches["ratelimit"].close()
    assert "entry limit" in caplog.text and Participant.objects.count() == 1


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "192.0.2.5"}, "192.0.2.5"),
        ({"REMOTE_ADDR": "2001:db8::1:2:3:4"}, "2001:db8::"),
        ({"REMOTE_ADDR": "not an address"}, UNKNOWN_ADDRESS),
    ],
)
def test_the_client_address_is_read_safely(meta: dict[str, str], expected: str):
    assert client_address(RequestFactory().get("/", **meta)) == expected


def test_behind_a_proxy_the_address_it_added_counts(settings: Any):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")
    assert client_address(request) == "198.51.100.20"


def test_the_default_settings_pass_the_system_checks_of_the_rate_limiter():
    # django-ratelimit's checks look at the cache the limits count in (see the settings).
    call_command("check", "--fail-level", "WARNING")
