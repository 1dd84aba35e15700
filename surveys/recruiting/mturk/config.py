"""A study's Mechanical Turk settings (``Study.recruiter_config``), checked and typed.

Every setting has a default, so ``recruiter: mturk`` alone publishes sandbox HITs. The reward is
not a setting: it is the study's own ``reward`` (USD), checked when the HITs are published.
Time spans are whole hours or minutes so a spec reads plainly; MTurk wants seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from surveys.common.checks import Checker
from surveys.recruiting.base import RecruiterConfigError

# MTurk's system qualification types (see reference/study-platforms.md §3).
PERCENT_APPROVED_QUAL = "000000000000000000L0"
HITS_APPROVED_QUAL = "00000000000000000040"
LOCALE_QUAL = "00000000000000000071"
# Masters has one ID in production and another in the sandbox; the wrong one hides the HIT.
MASTERS_QUAL = {True: "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", False: "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"}
# Hide the HIT from ineligible workers entirely, rather than letting them preview it.
GUARD = "DiscoverPreviewAndAccept"

# A HIT of 10 or more assignments costs a 20 % surcharge; batches stay under it.
MAX_ASSIGNMENTS_PER_HIT = 9
# MTurk's limits on the HIT's texts.
TITLE_MAX = 128
DESCRIPTION_MAX = 2000
KEYWORDS_MAX = 1000
FEEDBACK_MAX = 1024
# Lifetime and duration may span 30 s to 365 days; auto-approval at most 30 days.
MAX_LIFETIME_HOURS = 365 * 24
MAX_DURATION_MINUTES = 365 * 24 * 60
MAX_AUTO_APPROVAL_HOURS = 30 * 24
# A typo guard: a bonus rule above this is refused rather than paid to every worker.
MAX_BONUS = Decimal("100.00")
AMOUNT = re.compile(r"^[0-9]+(\.)?[0-9]{0,2}$")
_QUAL_ID = re.compile(r"^[A-Z0-9]{1,64}$")
_LOCALE = re.compile(r"^(?P<country>[A-Z]{2})(-(?P<subdivision>[A-Z0-9]{1,3}))?$")

KNOWN_SETTINGS = (
    "sandbox",
    "title",
    "description",
    "keywords",
    "frame_height",
    "lifetime_hours",
    "assignment_duration_minutes",
    "auto_approval_delay_hours",
    "assignments_per_hit",
    "masters",
    "approval_rate",
    "approved_hits",
    "locales",
    "repeat_qualification_id",
    "bonus",
    "auto_sync",
)


@dataclass(frozen=True)
class BonusRule:
    """A bonus paid with every approval (before it, as oTree does)."""

    amount: Decimal
    reason: str


@dataclass(frozen=True)
class MTurkConfig:
    """The checked settings; defaults are the ones a study without settings gets."""

    sandbox: bool = True
    title: str = ""
    description: str = ""
    keywords: str = "images, rating, survey, AI"
    frame_height: int = 800
    lifetime_hours: int = 7 * 24
    assignment_duration_minutes: int = 60
    auto_approval_delay_hours: int = 72
    assignments_per_hit: int = MAX_ASSIGNMENTS_PER_HIT
    masters: bool = False
    approval_rate: int | None = 95
    approved_hits: int | None = None
    locales: tuple[str, ...] = field(default_factory=tuple)
    repeat_qualification_id: str = ""
    bonus: BonusRule | None = None
    auto_sync: bool = True

    @property
    def mode(self) -> str:
        return "sandbox" if self.sandbox else "production"

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored in ``Study.recruiter_config``."""
        data = asdict(self)
        data["locales"] = list(self.locales)
        if self.bonus is not None:
            data["bonus"] = {"amount": f"{self.bonus.amount:.2f}", "reason": self.bonus.reason}
        return data

    def qualification_requirements(self) -> list[dict[str, Any]]:
        """The HIT's ``QualificationRequirements`` in the MTurk API's shape."""
        wanted: list[dict[str, Any]] = []
        if self.masters:
            wanted.append(
                {"QualificationTypeId": MASTERS_QUAL[self.sandbox], "Comparator": "Exists"}
            )
        if self.approval_rate is not None:
            wanted.append(_at_least(PERCENT_APPROVED_QUAL, self.approval_rate))
        if self.approved_hits is not None:
            wanted.append(_at_least(HITS_APPROVED_QUAL, self.approved_hits))
        if self.locales:
            wanted.append(
                {
                    "QualificationTypeId": LOCALE_QUAL,
                    "Comparator": "In",
                    "LocaleValues": [_locale_value(locale) for locale in self.locales],
                }
            )
        if self.repeat_qualification_id:
            # Granted to every worker who starts: they never see a later batch of this study.
            wanted.append(
                {"QualificationTypeId": self.repeat_qualification_id, "Comparator": "DoesNotExist"}
            )
        return [{**requirement, "ActionsGuarded": GUARD} for requirement in wanted]


def _at_least(qualification: str, value: int) -> dict[str, Any]:
    return {
        "QualificationTypeId": qualification,
        "Comparator": "GreaterThanOrEqualTo",
        "IntegerValues": [value],
    }


def _locale_value(locale: str) -> dict[str, str]:
    match = _LOCALE.match(locale)
    if match is None:  # checked when the settings were read
        raise ValueError(f"bad locale {locale!r}")
    value = {"Country": match["country"]}
    if match["subdivision"]:
        value["Subdivision"] = match["subdivision"]
    return value


def check_mturk_config(config: Mapping[str, object]) -> MTurkConfig:
    """The settings in ``config``, checked.

    Raises:
        RecruiterConfigError: every bad or unknown setting, each with its fix.
    """
    check = Checker(config)
    check.unknown_keys(KNOWN_SETTINGS)
    defaults = MTurkConfig()
    settings = MTurkConfig(
        sandbox=_flag(check, "sandbox", defaults.sandbox),
        title=_optional_text(check, "title", TITLE_MAX),
        description=_optional_text(check, "description", DESCRIPTION_MAX),
        keywords=_keywords(check, defaults.keywords),
        frame_height=_bounded(check, "frame_height", defaults.frame_height, 0, 20000),
        lifetime_hours=_bounded(check, "lifetime_hours", defaults.lifetime_hours, 1,
                                MAX_LIFETIME_HOURS),
        assignment_duration_minutes=_bounded(check, "assignment_duration_minutes",
                                             defaults.assignment_duration_minutes, 1,
                                             MAX_DURATION_MINUTES),
        auto_approval_delay_hours=_bounded(check, "auto_approval_delay_hours",
                                           defaults.auto_approval_delay_hours, 0,
                                           MAX_AUTO_APPROVAL_HOURS),
        assignments_per_hit=_assignments_per_hit(check),
        masters=_flag(check, "masters", defaults.masters),
        approval_rate=_optional_bounded(check, "approval_rate", defaults.approval_rate, 0, 100),
        approved_hits=_optional_bounded(check, "approved_hits", None, 0, 10**9),
        locales=_locales(check),
        repeat_qualification_id=_qualification_id(check),
        bonus=_bonus(check),
        auto_sync=_flag(check, "auto_sync", defaults.auto_sync),
    )  # fmt: skip
    if check.problems:
        raise RecruiterConfigError("; ".join(str(problem) for problem in check.problems))
    return settings


def _flag(check: Checker, key: str, default: bool) -> bool:
    value = check.data.get(key, default)
    if not isinstance(value, bool):
        check.fail(key, f"must be true or false, got {value!r}")
        return default
    return value


def _optional_text(check: Checker, key: str, max_length: int) -> str:
    if check.data.get(key) in (None, ""):
        return ""
    return check.text(key, max_length=max_length)


def _keywords(check: Checker, default: str) -> str:
    value = check.data.get("keywords", default)
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        value = ", ".join(word.strip() for word in value if word.strip())
    if not isinstance(value, str):
        check.fail("keywords", "must be text or a list of words, e.g. [images, rating]")
        return default
    if len(value) > KEYWORDS_MAX:
        check.fail("keywords", f"are {len(value)} characters long; MTurk takes {KEYWORDS_MAX}")
        return default
    return value.strip()


def _bounded(check: Checker, key: str, default: int, low: int, high: int) -> int:
    value = check.integer(key, default, minimum=low)
    if value > high:
        check.fail(key, f"must be at most {high}, got {value}")
        return default
    return value


def _optional_bounded(
    check: Checker, key: str, default: int | None, low: int, high: int
) -> int | None:
    if key in check.data and check.data[key] is None:
        return None
    if key not in check.data:
        return default
    return _bounded(check, key, default or low, low, high)


def _assignments_per_hit(check: Checker) -> int:
    value = check.integer("assignments_per_hit", MAX_ASSIGNMENTS_PER_HIT, minimum=1)
    if value > MAX_ASSIGNMENTS_PER_HIT:
        check.fail(
            "assignments_per_hit",
            f"is {value}; MTurk charges a 20 % surcharge on HITs of 10 or more assignments, so "
            f"the study is published as several HITs of at most {MAX_ASSIGNMENTS_PER_HIT} "
            f"(set {MAX_ASSIGNMENTS_PER_HIT} or fewer)",
        )
        return MAX_ASSIGNMENTS_PER_HIT
    return value


def _locales(check: Checker) -> tuple[str, ...]:
    value = check.data.get("locales", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        check.fail("locales", "must be a list of country codes such as [US, GB] or [US-CA]")
        return ()
    locales = []
    for item in value:
        text = str(item).strip().upper()
        if not _LOCALE.match(text):
            check.fail(
                "locales", f"{item!r} is not a country code such as US or a subdivision as US-CA"
            )
            continue
        locales.append(text)
    return tuple(dict.fromkeys(locales))


def _qualification_id(check: Checker) -> str:
    value = check.data.get("repeat_qualification_id") or ""
    if not value:
        return ""
    if not isinstance(value, str) or not _QUAL_ID.match(value.strip()):
        check.fail(
            "repeat_qualification_id",
            f"{value!r} is not a qualification type ID (capital letters and digits); create a "
            "qualification type in your requester account and give its ID",
        )
        return ""
    return value.strip()


def _bonus(check: Checker) -> BonusRule | None:
    raw = check.data.get("bonus")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        check.fail("bonus", "must be a mapping: {amount: '0.50', reason: 'Thank you for ...'}")
        return None
    rule = check.nested("bonus")
    rule.unknown_keys(("amount", "reason"))
    amount = check_amount(str(raw.get("amount", "")), "bonus.amount", check)
    reason = rule.text("reason", max_length=FEEDBACK_MAX)
    if amount is None or not reason:
        return None
    return BonusRule(amount, reason)


def check_amount(value: str, name: str, check: Checker | None = None) -> Decimal | None:
    """A USD amount as MTurk takes it (``^[0-9]+(\\.)?[0-9]{0,2}$``), above 0, below the guard.

    With ``check`` a problem is recorded there and None returned; without, it is raised.

    Raises:
        RecruiterConfigError: a bad amount, when no ``check`` collects it.
    """
    text = value.strip().removeprefix("$")
    problem = ""
    if not AMOUNT.match(text):
        problem = f"{value!r} is not an amount in dollars such as 0.50 (digits, at most 2 decimals)"
    elif Decimal(text) <= 0:
        problem = f"{value!r} pays nothing; give an amount above 0.00"
    elif Decimal(text) > MAX_BONUS:
        problem = f"{value!r} is above {MAX_BONUS} USD; that looks like a typo"
    if problem and check is not None:
        check.fail(name, problem)
        return None
    if problem:
        raise RecruiterConfigError(f"{name}: {problem}")
    return Decimal(text).quantize(Decimal("0.01"))


def read_mturk_config(raw: Mapping[str, object] | None) -> MTurkConfig:
    """The settings stored on a study, checked again (a hand-edited row is caught here)."""
    return check_mturk_config(raw or {})
