"""The payment ledger: every call that moves money or changes a recruiter's state, exactly once.

:func:`do_ledger_step` writes the entry (with the idempotency token the call will carry) and
commits it *before* calling, then records the outcome. Re-running the same step finds the entry:

* ``done``: nothing is called again, whatever happened since;
* ``pending`` (a run died after writing the entry, maybe after the call went out): the call is
  made again only if it is safe to repeat (MTurk's calls carry ``UniqueRequestToken``, so a
  repeat is refused rather than paid twice); a call that is not (Prolific's bonus payment) must
  come with ``reconcile``, which asks the service whether it already happened;
* ``failed``: tried again, as a new attempt on the same entry.

Throttling and service faults (the ``retryable`` exceptions) are retried with exponential
backoff; an answer that says the work is already done (``already_done``, e.g. MTurk's "already
approved") counts as done.

A token names exactly one call: a step that comes back under a recorded token with another
action, study, amount or request is refused (:class:`LedgerTokenReused`) and nothing is sent,
so a retry with another amount can never go out under the first one's record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from surveys.models import LedgerEntry, LedgerStatus, Study, Submission

MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0


class LedgerCallError(RuntimeError):
    """The call failed for good; the entry is marked failed and the message says why."""

    def __init__(self, entry: LedgerEntry, message: str) -> None:
        super().__init__(message)
        self.entry = entry


class LedgerTokenReused(LedgerCallError, ValueError):
    """A recorded token asked for another call (action, study, amount or request): not sent."""


@dataclass(frozen=True)
class Step:
    """One ledger step: what is called, with which token, for how much money."""

    study: Study
    recruiter: str
    action: str
    token: str
    amount: Decimal | None = None
    currency: str = ""
    submission: Submission | None = None
    request: Mapping[str, Any] | None = None
    # False for calls a service does not deduplicate (Prolific's pay): then ``reconcile`` is
    # asked before a pending entry is called again.
    repeatable: bool = True


def _entry(step: Step, guard: Callable[[], None] | None = None) -> LedgerEntry:
    with transaction.atomic():
        if guard is not None:
            # The study's row lock makes the guard and the new entry one step: two runs that
            # read the other entries at once cannot both pass it.
            Study.objects.select_for_update().filter(pk=step.study.pk).first()
            guard()
        entry, _ = LedgerEntry.objects.select_for_update().get_or_create(
            token=step.token,
            defaults=dict(
                study=step.study, submission=step.submission, recruiter=step.recruiter,
                action=step.action, amount=step.amount, currency=step.currency,
                request=dict(step.request or {}),
            ),
        )  # fmt: skip
    _check_same_call(entry, step)
    return entry


def _canonical(value: Mapping[str, Any]) -> str:
    # As stored: the JSON field turns tuples into lists and Decimals into text.
    return json.dumps(value, sort_keys=True, default=str)


def _check_same_call(entry: LedgerEntry, step: Step) -> None:
    """Refuse a step that reuses ``entry``'s token for another call (see the module)."""
    if entry.action != step.action or entry.study_id != step.study.pk:
        raise LedgerTokenReused(
            entry,
            f"token {step.token!r} already belongs to {entry.action} of another study or action; "
            "tokens must name exactly one call",
        )
    if entry.amount is None and step.amount is None:
        return  # no money moves: a repeat with other wording does no harm
    first = f"{step.action} {step.token} was first recorded ({entry.status})"
    recorded, asked = _money(entry.amount, entry.currency), _money(step.amount, step.currency)
    if recorded != asked:
        raise LedgerTokenReused(
            entry,
            f"{first} for {recorded} and is now asked for {asked}: nothing was sent. Ask for the "
            "recorded amount again, or settle that call with the service first",
        )
    # Entries written before requests were recorded have none to compare.
    stored = _canonical(entry.request) if entry.request else ""
    if step.request is not None and stored and stored != _canonical(step.request):
        raise LedgerTokenReused(
            entry,
            f"{first} with another request ({stored[:200]}) than this one "
            f"({_canonical(step.request)[:200]}): nothing was sent",
        )


def _money(amount: Decimal | None, currency: str) -> str:
    return "no amount" if amount is None else f"{Decimal(amount):.2f} {currency}".strip()


def _claim(entry: LedgerEntry) -> None:
    """Take the next attempt, or fail if another run took it since this one read the entry.

    A conditional UPDATE is the claim: of two runs started at the same instant only one moves
    ``attempts`` from the value both read, so only one makes the call.
    """
    claimed = LedgerEntry.objects.filter(
        pk=entry.pk, attempts=entry.attempts, status__in=[LedgerStatus.PENDING, LedgerStatus.FAILED]
    ).update(attempts=entry.attempts + 1, updated_at=timezone.now())
    if not claimed:
        raise LedgerCallError(
            entry, f"{entry.action} {entry.token} is being made by another run; try again shortly"
        )
    entry.attempts += 1


def _finish(entry: LedgerEntry, status: str, response: Mapping[str, Any], error: str) -> None:
    entry.status = status
    entry.response = dict(response)
    entry.error = error
    entry.save(update_fields=["status", "response", "error", "attempts", "updated_at"])


def do_ledger_step(
    step: Step,
    call: Callable[[], Mapping[str, Any]],
    *,
    retryable: tuple[type[BaseException], ...] = (),
    already_done: Callable[[BaseException], bool] | None = None,
    reconcile: Callable[[], Mapping[str, Any] | None] | None = None,
    guard: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LedgerEntry:
    """Make ``call`` once for ``step.token``, recording it in the ledger.

    Args:
        step: The study, action, token and money involved.
        call: Makes the recruiter call; returns what to keep of its answer (JSON-able).
        retryable: Exceptions that mean "try again later" (throttling, service faults).
        already_done: Says whether an exception means the work was already done.
        reconcile: For calls that are not repeatable: returns the service's record of the
            earlier call when it went through, else None.
        guard: Checks the step against the study's other entries (e.g. one bonus line per
            submission); it runs with the study's row locked, just before the entry is
            written, and raises to refuse (nothing is recorded or sent).
        sleep: Waits between retries (tests pass a no-op).

    Returns:
        The entry, ``done``.

    Raises:
        LedgerCallError: The call failed for good (the entry is ``failed``), or a pending entry
            of a call that is not repeatable could not be reconciled.
        LedgerTokenReused: The token is recorded for another call; nothing was sent.
    """
    entry = _entry(step, guard)
    if entry.status == LedgerStatus.DONE:
        return entry
    if entry.attempts and not step.repeatable:
        # An earlier attempt may have gone through even if it died or failed on the way back.
        found = reconcile() if reconcile is not None else None
        if found is None and reconcile is None:
            message = f"{step.action} {step.token} may have gone out and cannot be repeated safely"
            raise LedgerCallError(entry, f"{message}; check it with the service")
        if found is not None:
            _finish(entry, LedgerStatus.DONE, {**found, "reconciled": True}, "")
            return entry
    for attempt in range(MAX_ATTEMPTS):
        _claim(entry)
        try:
            response = call()
        except retryable as exc:
            if attempt == MAX_ATTEMPTS - 1:
                _finish(entry, LedgerStatus.FAILED, {}, f"{type(exc).__name__}: {exc}")
                message = f"{step.action} failed after {MAX_ATTEMPTS} tries: {exc}"
                raise LedgerCallError(entry, message) from exc
            sleep(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt))
            continue
        except Exception as exc:
            if already_done is not None and already_done(exc):
                _finish(entry, LedgerStatus.DONE, {"already_done": str(exc)}, "")
                return entry
            _finish(entry, LedgerStatus.FAILED, {}, f"{type(exc).__name__}: {exc}")
            raise LedgerCallError(entry, f"{step.action} failed: {exc}") from exc
        _finish(entry, LedgerStatus.DONE, response, "")
        return entry
    raise AssertionError("unreachable")
