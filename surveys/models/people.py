"""Participants, the order each sees their questions in, and their answers.

Invariants kept by the database: one participant per recruiter ID per study, one participant per
recruiter session (a Prolific SESSION_ID, an MTurk assignment), one position and one question per
place in a participant's order, and one :class:`Response` per participant and question, so a
repeated submit can never store a second answer.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from surveys.models.codes import new_code
from surveys.models.studies import Question, QuestionSet, Study


class ParticipantStatus(models.TextChoices):
    STARTED = "started", "Started"
    CONSENTED = "consented", "Consented"
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined consent"
    RETURNED = "returned", "Returned or timed out"
    EXCLUDED = "excluded", "Excluded"


class Participant(models.Model):
    """One person taking one study, known to us by a random code."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    external_id = models.CharField(
        max_length=200, help_text="The recruiter's participant ID (never exported in clear)."
    )
    recruiter = models.CharField(max_length=20)
    recruiter_data = models.JSONField(default=dict, blank=True)
    recruiter_session = models.CharField(
        max_length=200,
        blank=True,
        help_text="The recruiter's proof of this session, recorded at entry (Prolific's "
        "SESSION_ID, MTurk's assignment ID); the same recruiter ID resumes only with it.",
    )
    question_set = models.ForeignKey(
        QuestionSet, null=True, blank=True, on_delete=models.PROTECT, related_name="participants"
    )
    seed = models.BigIntegerField(default=0)
    item_count = models.PositiveIntegerField(
        default=0, help_text="Questions in the participant's order (set at consent)."
    )
    status = models.CharField(
        max_length=20, choices=ParticipantStatus.choices, default=ParticipantStatus.STARTED
    )
    started_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    user_agent = models.CharField(max_length=400, blank=True)
    exclusion_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["study", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"], name="participant_unique_external_id"
            ),
            # Prolific session and MTurk assignment IDs are unique across the service, so one
            # session names one participant, whichever study a webhook or a sync is about.
            models.UniqueConstraint(
                fields=["recruiter", "recruiter_session"],
                condition=~models.Q(recruiter_session=""),
                name="participant_unique_recruiter_session",
            ),
        ]
        indexes = [models.Index(fields=["study", "status"])]

    def __str__(self) -> str:
        return self.code


class ParticipantItem(models.Model):
    """A place in a participant's own seeded order of questions, and when it was first shown."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    first_shown_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "position"], name="participantitem_unique_position"
            ),
            models.UniqueConstraint(
                fields=["participant", "question"], name="participantitem_unique_question"
            ),
        ]


class Response(models.Model):
    """One answer, written in one transaction the moment it is given."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="responses")
    position = models.PositiveIntegerField()
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    client_rt_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the images' load to the answer, in the browser."
    )
    # 64-bit: a participant may resume weeks after first seeing a question, and 2**31 ms is
    # under 25 days (PostgreSQL's integer refused the answer).
    server_rt_ms = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="From the page's first serving to the answer."
    )
    unlocked_rt_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the scale's unlock to the answer, in the browser."
    )
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "question"], name="response_one_per_question"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="response_score_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} q{self.position}: {self.score}"


__all__ = ["Participant", "ParticipantItem", "ParticipantStatus", "Response"]
