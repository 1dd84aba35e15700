"""What recruiters report and what money moves: submissions, the payment ledger, hook events.

* A :class:`Submission` is the recruiter's record of one participation (an MTurk assignment, a
  Prolific submission), matched to our participant when one exists; one that matches nobody is
  kept and flagged rather than dropped.
* A :class:`LedgerEntry` is written *before* every money-moving or state-changing call to a
  recruiter (publish, approve, reject, bonus, pay, block, expire, ...) with the idempotency token
  the call carries, and updated with its outcome. The token is unique, so re-running a sync or a
  payment step finds the entry and never pays twice.
* A :class:`HookEvent` is one webhook delivery, kept once by its event ID and once by the digest
  of what was signed, so a repeat (or a replay under a new event ID) is dropped; its
  ``resolution`` says what became of it. A :class:`HookSecret` is a workspace's signing secret.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from surveys.models.people import Participant
from surveys.models.studies import Study


class SubmissionStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted / in progress"
    SUBMITTED = "submitted", "Submitted, awaiting review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RETURNED = "returned", "Returned / timed out"


class Submission(models.Model):
    """A recruiter's record of one participation, as last synced."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="submissions")
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    recruiter = models.CharField(max_length=20)
    external_id = models.CharField(
        max_length=200, help_text="MTurk assignment ID or Prolific submission ID."
    )
    worker_id = models.CharField(max_length=200, blank=True)
    batch_id = models.CharField(max_length=200, blank=True, help_text="HIT ID or study ID.")
    status = models.CharField(max_length=20, choices=SubmissionStatus.choices)
    unmatched = models.BooleanField(
        default=False, help_text="No participant of ours matches it: check before paying."
    )
    data = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recruiter", "external_id"], name="submission_unique_external_id"
            )
        ]


class LedgerStatus(models.TextChoices):
    PENDING = "pending", "Pending (sent or about to be)"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class LedgerEntry(models.Model):
    """One call to a recruiter that moves money or changes what participants can do."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="ledger")
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    recruiter = models.CharField(max_length=20)
    action = models.CharField(max_length=40, help_text="publish, approve, reject, bonus, ...")
    token = models.CharField(
        max_length=64, unique=True, help_text="The idempotency token the call carries."
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(
        max_length=20, choices=LedgerStatus.choices, default=LedgerStatus.PENDING
    )
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["study", "created_at", "id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["study", "action", "status"])]

    def __str__(self) -> str:
        return f"{self.action} {self.token} ({self.status})"


class HookResolution(models.TextChoices):
    APPLIED = "applied", "Applied to a study of ours"
    UNMATCHED = "unmatched", "Names nothing we know yet: the API is asked whose it is"
    FOREIGN = "foreign", "Another study's, says the API: never acted on"
    IGNORED = "ignored", "Nothing to act on"


class HookEvent(models.Model):
    """A webhook delivery, kept once per event ID and once per signed digest."""

    recruiter = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed = models.BooleanField(default=False)
    digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the signed timestamp and body."
    )
    resolution = models.CharField(max_length=20, choices=HookResolution.choices, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recruiter", "event_id"], name="hookevent_unique_id"),
            models.UniqueConstraint(
                fields=["recruiter", "digest"],
                condition=~Q(digest=""),
                name="hookevent_unique_digest",
            ),
        ]
        indexes = [
            models.Index(fields=["recruiter", "resolution"], name="hookevent_resolution_idx")
        ]


class HookSecret(models.Model):
    """A recruiter workspace's webhook signing secret, as its API created or listed it."""

    recruiter = models.CharField(max_length=20)
    workspace_id = models.CharField(max_length=100)
    value = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recruiter", "workspace_id"], name="hooksecret_unique_workspace"
            )
        ]
