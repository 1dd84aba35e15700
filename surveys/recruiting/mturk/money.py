"""What Mechanical Turk calls cost: rewards, bonuses and MTurk's fees, in USD.

MTurk's commission (rates of July 2015, see reference/study-platforms.md §3): 20 % of each reward
and each bonus, at least $0.01 each; +5 % on rewards of HITs that require Masters. HITs of 10 or
more assignments would cost another 20 %, which is why the study is published in batches of 9.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from surveys.models import Study
from surveys.recruiting.mturk.config import AMOUNT
from surveys.recruiting.plans import CENT, ZERO, Money

FEE_RATE = Decimal("0.20")
MASTERS_FEE_RATE = Decimal("0.05")
MIN_FEE = CENT
CURRENCY = "USD"


class MTurkInputError(ValueError):
    """A request MTurk cannot carry out as given; the message says what to fix. Nothing ran."""


def fee(amount: Decimal, masters: bool = False) -> Decimal:
    """MTurk's commission on one reward or bonus of ``amount``."""
    rate = FEE_RATE + (MASTERS_FEE_RATE if masters else ZERO)
    return max(MIN_FEE, (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP))


def rewards_cost(reward: Decimal, assignments: int, masters: bool) -> Money:
    return Money(rewards=reward * assignments, reward_fees=fee(reward, masters) * assignments)


def bonuses_cost(amount: Decimal, count: int) -> Money:
    return Money(bonuses=amount * count, bonus_fees=fee(amount) * count)


def check_reward(study: Study) -> Decimal:
    """The study's reward per assignment, as MTurk takes it.

    Raises:
        MTurkInputError: not USD, or not a positive amount with at most two decimals.
    """
    if study.currency != CURRENCY:
        raise MTurkInputError(
            f"Study {study.slug!r} pays in {study.currency}; Mechanical Turk pays only in USD. "
            "Set currency: USD and the reward in dollars."
        )
    reward = Decimal(study.reward)
    text = f"{reward:f}"
    if not AMOUNT.match(text) or reward <= 0:
        raise MTurkInputError(
            f"Study {study.slug!r} has the reward {text!r}, which Mechanical Turk cannot pay: give "
            "a positive amount in dollars with at most two decimals, such as 2.40."
        )
    return reward.quantize(CENT)


def usd(amount: Decimal) -> str:
    """``amount`` as MTurk writes it: digits and two decimals, no symbol."""
    return f"{amount.quantize(CENT):f}"
