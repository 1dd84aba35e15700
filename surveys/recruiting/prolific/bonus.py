"""Bonuses: set up in bulk, then paid, with the payment guarded by the ledger.

Prolific pays bonuses in two calls. ``POST /submissions/bonus-payments/`` sets up a bulk bonus
from ``study_id`` and ``csv_bonuses`` (lines of ``<submission id>,<amount>``, the amount in the
study's currency, e.g. ``1.50``) and answers its ID with the amounts and fees in pence/cents;
nothing is paid yet. ``POST /bulk-bonus-payments/{id}/pay/`` pays it, asynchronously, and is
**not idempotent**: every call pays again.

* Every bonus line is at most the study's bonus cap (``bonus_cap`` in the spec, else the
  reward), and a submission gets one bonus line across all of the study's set-ups: named twice
  in one list (by submission ID and by participant ID) or already in another set-up, it is
  refused before anything is sent. The check of the other set-ups and the new ledger entry are
  one locked step, so two set-ups made at once cannot both take the same submission.
* Set-up is one ledger step per bonus list (its token is a digest of the study, a round label
  and the lines in the order of our submission rows, whatever order they were typed in), so
  asking twice for the same bonuses sets them up once. A set-up repeated after an interruption
  leaves at worst an unused set-up at Prolific, never a payment: only set-ups recorded here are
  ever paid.
* Paying is one ledger step per bulk ID (``prolific-pay-<id>``) that is never repeated blindly.
  Before the first attempt each submission's count of bonus payments is recorded (the
  baseline). When a run died, or lost the answer, after the pay call went out, ``reconcile``
  asks Prolific about every submission: a new bonus of the set-up amount means the payment
  went through, and it is recorded instead of made again. Prolific pays within minutes, so if
  nothing shows yet and the call went out less than :data:`PAY_SETTLE_MINUTES` ago it refuses
  to guess and says when to look again. An attempt that Prolific answered with a refusal
  (HTTP 4xx, e.g. too little balance) paid nothing and is made again at once. A set-up that
  repeats a submission of a bonus already paid (set up before these rules) is never paid.
* Before setting up or paying, Prolific is asked which currency the study's workspace pays in;
  a study priced in another currency is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections
from django.utils import timezone

from surveys.models import LedgerEntry, LedgerStatus, Study, Submission
from surveys.recruiting.ledger import LedgerCallError, Step, do_ledger_step
from surveys.recruiting.plans import Outcome, money, over_bonus_cap
from surveys.recruiting.prolific.api import (
    ProlificBusy,
    ProlificClient,
    ProlificError,
    ProlificHTTPError,
    ProlificInputError,
    ProlificUnreachable,
)
from surveys.recruiting.prolific.bulk import (
    PAY,
    SETUP,
    BulkBonus,
    bulk_bonus,
    pay_token,
    refuse_repeats,
    repeat_line,
    repeated_bonuses,
    setup_token,
    unpaid_bonuses,
)
from surveys.recruiting.prolific.plans import (
    RECRUITER,
    ProlificPlan,
    check_currency,
    check_workspace_currency,
    money_line,
    parse_amount,
    prolific_plan,
    prolific_study_id,
    study_submissions,
)

PAY_SETTLE_MINUTES = 30
MAX_BONUS_LINES = 500
ROUND_MAX_LENGTH = 20
_LOCAL_LOCKS: dict[int, threading.Lock] = {}


class PaymentUncertain(ProlificError):
    """A pay call may have gone out and Prolific does not show it yet: do not pay again now."""


def parse_bonus_lines(study: Study, text: str) -> list[tuple[str, Decimal]]:
    """``<submission or participant ID>,<amount>`` per line; blank lines and ``#`` comments
    are skipped.

    Raises:
        ProlificInputError: a line is not an ID and a positive amount with two decimals, or
            the amount is over the study's bonus cap.
    """
    bonuses = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        ident, comma, amount = line.partition(",")
        if not comma or not ident.strip():
            raise ProlificInputError(
                f"bonus line {number}: write <submission or participant ID>,<amount>, "
                f"e.g. 60ffe5c8371090c7041d43f8,0.50; got {line[:60]!r}"
            )
        value = parse_amount(amount, f"bonus line {number}")
        if problem := over_bonus_cap(study, value):
            raise ProlificInputError(f"bonus line {number} ({ident.strip()[:30]}): {problem}")
        bonuses.append((ident.strip().lower(), value))
    if not bonuses:
        raise ProlificInputError("no bonuses given: one line per participant, <ID>,<amount>")
    if len(bonuses) > MAX_BONUS_LINES:
        raise ProlificInputError(f"{len(bonuses)} bonus lines; at most {MAX_BONUS_LINES} at once")
    return bonuses


def _round(label: str) -> str:
    label = label.strip() or "1"
    if len(label) > ROUND_MAX_LENGTH or not label.replace("-", "").replace("_", "").isalnum():
        raise ProlificInputError(
            f"the round label must be up to {ROUND_MAX_LENGTH} letters, digits, - or _"
        )
    return label


def _canonical_lines(study: Study, text: str) -> list[tuple[str, Decimal]]:
    """The bonus lines as submission IDs, checked, in the order of our submission rows."""
    bonuses = parse_bonus_lines(study, text)
    rows = study_submissions(study, [ident for ident, _ in bonuses])
    blind = [row.external_id for row in rows if row.unmatched]
    if blind:
        raise ProlificInputError(
            f"no participant of ours matches {', '.join(blind[:5])}; bonus only participants "
            "whose answers you have"
        )
    paired = sorted(zip(rows, (amount for _, amount in bonuses), strict=True), key=_row_order)
    return [(row.external_id, amount) for row, amount in paired]


def _row_order(pair: tuple[Submission, Decimal]) -> int:
    return int(pair[0].pk)


def plan_bonus(study: Study, text: str, round_label: str = "1") -> ProlificPlan:
    """Setting up the bonuses in ``text`` (one ``ID,amount`` line each) for ``study``."""
    prolific_study_id(study)
    currency = check_currency(study)
    round_label = _round(round_label)
    lines = _canonical_lines(study, text)
    csv_bonuses = "\n".join(f"{sid},{money(amount)}" for sid, amount in lines)
    token = setup_token(study, round_label, csv_bonuses)
    refuse_repeats(study, token, [sid for sid, _ in lines])
    notes = ["Nothing is paid yet: paying is a separate, confirmed step showing Prolific's fees."]
    earlier = LedgerEntry.objects.filter(token=token, status=LedgerStatus.DONE).first()
    if earlier is not None:
        notes.insert(
            0,
            f"Already set up as bulk bonus {earlier.response.get('id')}: confirming "
            "changes nothing.",
        )
    return prolific_plan(
        action="bonus",
        title=f"Set up {len(lines)} bonus(es) for {study.slug} (round {round_label})",
        lines=tuple(money_line(f"Bonus for {sid}", amount) for sid, amount in lines),
        currency=currency,
        notes=tuple(notes),
        fields={"bonuses": csv_bonuses, "round": round_label},
        targets=tuple(sid for sid, _ in lines),
    )  # fmt: skip


def do_setup_bonus(study: Study, plan: ProlificPlan, client: ProlificClient) -> Outcome:
    """Set up the planned bonuses at Prolific (nothing is paid).

    Raises:
        ProlificInputError: the plan breaks a rule of the module (nothing is sent).
        ProlificError: Prolific could not tell the workspace's currency.
    """
    study_id = prolific_study_id(study)
    round_label = _round(plan.request["round"])
    lines = _canonical_lines(study, plan.request["bonuses"])
    csv_bonuses = "\n".join(f"{sid},{money(amount)}" for sid, amount in lines)
    token = setup_token(study, round_label, csv_bonuses)
    check_workspace_currency(study, client)
    step = Step(
        study, RECRUITER, SETUP, token,
        amount=sum((amount for _, amount in lines), Decimal("0")),
        currency=study.currency,
        request={"csv_bonuses": csv_bonuses, "round": round_label,
                 "lines": [[sid, money(amount)] for sid, amount in lines]},
    )  # fmt: skip
    try:
        entry = do_ledger_step(
            step,
            lambda: client.setup_bonuses(study_id, csv_bonuses),
            retryable=(ProlificBusy, ProlificUnreachable),
            guard=lambda: refuse_repeats(study, token, [sid for sid, _ in lines]),
            sleep=client.sleep,
        )
    except LedgerCallError as failed:
        return Outcome(
            "bonus", message=f"Setting up the bonuses failed: {failed}", failures=[str(failed)]
        )
    bulk = bulk_bonus(entry)
    return Outcome(
        "bonus",
        message=f"Set up bulk bonus {bulk.bulk_id}: {money(bulk.amount)} {study.currency} in "
        f"bonuses, {money(bulk.total)} {study.currency} with fees; pay it to send it.",
        entries=[entry],
    )


def plan_pay(study: Study, bulk_ids: Sequence[str] = ()) -> ProlificPlan:
    """Paying the named bulk bonuses (default: every one set up, unpaid and not a repeat)."""
    prolific_study_id(study)
    unpaid = {bulk.bulk_id: bulk for bulk in unpaid_bonuses(study)}
    repeats = repeated_bonuses(study)
    named = [ident.strip().lower() for ident in bulk_ids if ident.strip()]
    wanted = named or [ident for ident in unpaid if ident not in repeats]
    unknown = [ident for ident in wanted if ident not in unpaid]
    if unknown:
        raise ProlificInputError(
            f"not an unpaid bulk bonus of {study.slug}: {', '.join(unknown[:5])}; set bonuses "
            "up first, and pay each bulk bonus once"
        )
    refused = [ident for ident in wanted if ident in repeats]
    if refused:
        raise ProlificInputError(
            f"{repeat_line(refused[0], repeats[refused[0]])}; each submission gets one bonus, "
            "so it is not paid"
        )
    notes = [
        f"Left out: {repeat_line(ident, repeats[ident])}." for ident in unpaid if ident in repeats
    ]
    if not wanted:
        raise ProlificInputError(
            f"{study.slug} has no bonus set up and unpaid; set one up first"
            + (f" ({notes[0]})" if notes else "")
        )
    chosen = [unpaid[ident] for ident in wanted]
    lines = []
    for bulk in chosen:
        lines.append(
            money_line(f"Bulk bonus {bulk.bulk_id}: {len(bulk.lines)} bonus(es)", bulk.amount)
        )
        lines.append(money_line(f"Prolific's fees on {bulk.bulk_id}", bulk.fees))
    return prolific_plan(
        action="pay",
        title=f"Pay {len(chosen)} bulk bonus(es) of {study.slug}",
        lines=tuple(lines),
        currency=study.currency,
        notes=(*notes, "Prolific pays within minutes and does not deduplicate payments; each "
               "bulk bonus is paid once through the ledger."),
        fields={"ids": " ".join(wanted)},
        targets=tuple(wanted),
    )  # fmt: skip


def _baseline(client: ProlificClient, lines: Sequence[tuple[str, Decimal]]) -> dict[str, int]:
    return {sid: len(client.get_submission(sid).get("bonus_payments") or []) for sid, _ in lines}


def _reconcile(client: ProlificClient, token: str, now: datetime) -> dict[str, Any] | None:
    """Prolific's record of an earlier pay attempt of ``token``; None when it surely paid
    nothing (see the module)."""
    entry = LedgerEntry.objects.get(token=token)
    baseline: dict[str, int] = entry.request.get("baseline", {})
    seen = []
    for sid, amount in entry.request.get("lines", []):
        payments = client.get_submission(sid).get("bonus_payments") or []
        cents = Decimal(amount) * 100
        if any(abs(Decimal(str(p)) - cents) < 1 for p in payments[baseline.get(sid, 0) :]):
            seen.append(sid)
    if seen:
        return {"paid": True, "seen_on": seen}
    refused = entry.status == LedgerStatus.FAILED and entry.error.startswith(
        f"{ProlificHTTPError.__name__}:"
    )
    settled = entry.updated_at + timedelta(minutes=PAY_SETTLE_MINUTES)
    if refused or now >= settled:
        return None
    raise PaymentUncertain(
        f"the payment of bulk bonus {entry.request.get('bulk_id')} went out at "
        f"{entry.updated_at:%Y-%m-%d %H:%M} UTC and Prolific does not show it yet; to avoid "
        f"paying twice, run pay again after {settled:%H:%M} UTC (it pays then only if Prolific "
        "still shows nothing)"
    )


def _pay_one(study: Study, bulk: BulkBonus, client: ProlificClient, now: datetime) -> LedgerEntry:
    token = pay_token(bulk.bulk_id)
    # The baseline is taken once, before the first attempt; a re-run keeps the recorded one.
    request: dict[str, Any] | None = None
    if not LedgerEntry.objects.filter(token=token).exists():
        lines = [(sid, money(amount)) for sid, amount in bulk.lines]
        request = {
            "bulk_id": bulk.bulk_id,
            "lines": lines,
            "baseline": _baseline(client, bulk.lines),
        }
    step = Step(
        study, RECRUITER, PAY, token, amount=bulk.amount, currency=study.currency,
        request=request, repeatable=False,
    )  # fmt: skip
    return do_ledger_step(
        step,
        lambda: {"paid": True, **client.pay_bonuses(bulk.bulk_id)},
        reconcile=lambda: _reconcile(client, token, now),
        sleep=client.sleep,
    )


@contextlib.contextmanager
def _paying(bulk_id: str) -> Iterator[None]:
    """Hold the right to pay ``bulk_id`` for this run, or refuse at once.

    The ledger never repeats a recorded call, but two runs started at the same moment (a
    double click on the confirmation) could both make the first one. PostgreSQL (where
    several web processes share the database) holds a session advisory lock outside any
    transaction, so the ledger's own commits still land before the call; elsewhere (SQLite,
    one process) a lock in this process does.
    """
    connection = connections["default"]
    key = int(hashlib.sha256(bulk_id.encode()).hexdigest()[:15], 16)
    local = _LOCAL_LOCKS.setdefault(key, threading.Lock())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            row = cursor.fetchone()
            held = bool(row and row[0])
    else:
        held = local.acquire(blocking=False)
    if not held:
        raise PaymentUncertain(
            f"another run is paying bulk bonus {bulk_id} right now; wait for it and look at "
            "the ledger before paying again"
        )
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        else:
            local.release()


def do_pay(
    study: Study, plan: ProlificPlan, client: ProlificClient, now: datetime | None = None
) -> Outcome:
    """Pay the planned bulk bonuses, each exactly once.

    Raises:
        ProlificInputError: the workspace pays in another currency than the study's.
        ProlificError: Prolific could not tell the workspace's currency.
    """
    now = now or timezone.now()
    check_workspace_currency(study, client)
    entries, failures, paid = [], [], Decimal("0")
    for bulk_id in plan.targets:
        try:
            with _paying(bulk_id):
                bulk = {b.bulk_id: b for b in unpaid_bonuses(study)}.get(bulk_id)
                if bulk is None:
                    continue  # paid since the plan was made
                clashes = repeated_bonuses(study).get(bulk_id)
                if clashes:
                    failures.append(f"{repeat_line(bulk_id, clashes)}; not paid")
                    continue
                entries.append(_pay_one(study, bulk, client, now))
                paid += bulk.total
        except (LedgerCallError, ProlificError) as failed:
            failures.append(f"{bulk_id}: {failed}")
    message = (
        f"Paid {len(entries)} bulk bonus(es) of {study.slug} "
        f"({money(paid)} {study.currency} with fees)"
    )
    return Outcome(
        "pay",
        message=message
        + (f"; {len(failures)} not paid: " + "; ".join(failures) if failures else "."),
        failures=list(failures),
        entries=list(entries),
    )
