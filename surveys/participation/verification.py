"""Verified participants: the ones the study's recruiter vouches for, not IDs typed into a link.

* Plain-link and panel participants are verified by construction: nothing outside the platform
  could vouch for them (see :mod:`surveys.recruiting.link` and :mod:`surveys.recruiting.panel`).
* Prolific and MTurk participants are verified once the service's own record of them, a
  submission or an assignment, is matched to them: the Prolific sync and webhooks
  (``surveys.recruiting.prolific.sync.do_record_submission``) and the MTurk sync
  (``surveys.recruiting.mturk.sync``) set ``Submission.participant``, and that link is the
  verification; nothing else writes it.

Only verified participants count toward "full"; the desk flags the others, the exports carry a
``verified`` column, and the report's default rules exclude the unverified
(``analysis.ExclusionRules.exclude_unverified``).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from surveys.models import Participant, Study, Submission
from surveys.recruiting.registry import verified_on_entry_kinds


def verified_filter() -> Q:
    """A filter on ``Participant`` rows that keeps the verified ones."""
    matched = Submission.objects.filter(participant=OuterRef("pk"), recruiter=OuterRef("recruiter"))
    return Q(recruiter__in=verified_on_entry_kinds()) | Q(Exists(matched))


def is_verified(participant: Participant) -> bool:
    """Whether ``participant`` is verified (one query unless their recruiter verifies on entry)."""
    if participant.recruiter in verified_on_entry_kinds():
        return True
    return Submission.objects.filter(
        participant=participant, recruiter=participant.recruiter
    ).exists()


def verified_ids(study: Study) -> set[int]:
    """The primary keys of ``study``'s verified participants (one query)."""
    rows = Participant.objects.filter(study=study).filter(verified_filter())
    return set(rows.values_list("pk", flat=True))
