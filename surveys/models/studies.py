"""Studies and what they show: conditions, stimuli, questions and balanced question sets.

A :class:`Study` compares *conditions* (one trained run each; the label is the method name in the
exports and is never shown to a participant). Building a study samples (prototype, image) pairs
per condition, renders each as a :class:`Stimulus` through Celery, and deals the questions into
:class:`QuestionSet` cells balanced like a Latin square; each participant is allocated one cell
and sees its questions in an order of their own (:class:`surveys.models.people.ParticipantItem`).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from surveys.models.catalogue import Prototype, Run
from surveys.models.codes import new_code

PAPER_QUESTION = "How salient is the feature pointed out by the AI system?"


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    BUILDING = "building", "Building stimuli"
    READY = "ready", "Ready"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class RecruiterKind(models.TextChoices):
    LINK = "link", "Plain link"
    PANEL = "panel", "Generic panel"
    PROLIFIC = "prolific", "Prolific"
    MTURK = "mturk", "Mechanical Turk"


class Study(models.Model):
    """A saliency-rating study: its design, texts, pay and recruiter."""

    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    slug = models.SlugField(max_length=80, unique=True, help_text="Researcher-facing handle.")
    title = models.CharField(max_length=200, help_text="Researcher-facing title.")
    public_title = models.CharField(
        max_length=200, default="Rate pictures of an AI system's attention"
    )
    status = models.CharField(max_length=20, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    question_text = models.CharField(max_length=300, default=PAPER_QUESTION)
    scale_low_label = models.CharField(max_length=60, default="least salient")
    scale_high_label = models.CharField(max_length=60, default="most salient")
    questions_per_dataset = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1)]
    )
    sampling = models.JSONField(
        default=dict, blank=True, help_text="How prototypes and images are drawn (see build)."
    )
    style = models.JSONField(default=dict, blank=True, help_text="One rendering style for all.")
    gold_share = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)]
    )
    quality_checks = models.JSONField(
        default=dict, blank=True, help_text="Instructed items and test-retest repeats per set."
    )
    participants_wanted = models.PositiveIntegerField(default=40)
    min_seconds_per_question = models.FloatField(default=2.0, validators=[MinValueValidator(0)])
    active_cutoff_minutes = models.PositiveIntegerField(
        default=60, help_text="An unfinished participant counts for allocation this long."
    )
    consent_text = models.TextField()
    instructions_text = models.TextField()
    debrief_text = models.TextField()
    reward = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    bonus_cap = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The largest bonus one participant may get (empty: the reward).",
    )
    estimated_minutes = models.PositiveIntegerField(default=10)
    completion_code = models.CharField(max_length=64, default=new_code)
    recruiter = models.CharField(
        max_length=20, choices=RecruiterKind.choices, default=RecruiterKind.LINK
    )
    recruiter_config = models.JSONField(default=dict, blank=True)
    exclusion_rules = models.JSONField(
        default=dict, blank=True, help_text="analysis.ExclusionRules fields, declared up front."
    )
    seed = models.PositiveIntegerField(default=0)
    # The plan (pre-registration, design, exclusion rules) as the spec declares it, rewritten by
    # every save until the study opens; then frozen as canonical text with its SHA-256
    # (analysis.preregistration), which no save may change.
    preregistration = models.JSONField(default=dict, blank=True)
    preregistration_text = models.TextField(blank=True, help_text="The frozen canonical text.")
    preregistration_sha256 = models.CharField(max_length=64, blank=True)
    preregistered_at = models.DateTimeField(null=True, blank=True)
    unblinded_at = models.DateTimeField(null=True, blank=True)
    unblinded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    protocol_events = models.JSONField(
        default=list, blank=True, help_text="Deviations recorded after the plan was frozen."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"
        # Staff see every study; only holders of this may approve, bonus or pay participants.
        permissions = [("can_pay", "Can approve, bonus and pay participants")]

    def __str__(self) -> str:
        return self.title


class Condition(models.Model):
    """One arm of a study: a trained run under a method label participants never see."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="conditions")
    label = models.CharField(max_length=200, help_text="The method column of the exports.")
    dataset = models.CharField(max_length=200, help_text="The dataset column of the exports.")
    position = models.PositiveIntegerField(default=0)
    # The overlay box as a condition of its own: "on"/"off" override the study's style for this
    # condition, so one run may be shown with and without the box; "" keeps the study's.
    box = models.CharField(max_length=3, blank=True, default="")

    class Meta:
        ordering = ["study", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "label", "dataset"], name="condition_unique_label"
            ),
            models.UniqueConstraint(fields=["study", "run", "box"], name="condition_unique_run"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.dataset})"


class StimulusStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Rendered"
    FAILED = "failed", "Failed"


class Stimulus(models.Model):
    """A rendered (prototype, image) pair: the original and its overlay, under opaque names."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="stimuli")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="stimuli")
    prototype = models.ForeignKey(Prototype, on_delete=models.PROTECT, related_name="stimuli")
    image_id = models.CharField(max_length=500, help_text="The dataset's image path.")
    crop_box = models.JSONField(null=True, blank=True, help_text="[x, y, w, h] or null.")
    map_override = models.CharField(
        max_length=20,
        blank=True,
        help_text="Synthetic maps: 'object' on the object, 'background' on empty background.",
    )
    practice = models.BooleanField(
        default=False,
        help_text="A practice picture of the instructions (an image no question shows).",
    )
    status = models.CharField(
        max_length=20, choices=StimulusStatus.choices, default=StimulusStatus.PENDING
    )
    original = models.FileField(upload_to="stimuli/", blank=True)
    overlay = models.FileField(upload_to="stimuli/", blank=True)
    score = models.FloatField(null=True, blank=True)
    box = models.JSONField(null=True, blank=True)
    # Measured on the very map the overlay draws, when it is rendered, so a later change of
    # style or model cannot make them describe another picture (surveys.studies.measures).
    measures = models.JSONField(
        default=dict, blank=True, help_text="Objective measures of the map shown, by name."
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "condition", "prototype", "image_id", "map_override"],
                name="stimulus_unique_pair",
            )
        ]
        indexes = [models.Index(fields=["study", "status"])]
        verbose_name_plural = "stimuli"


class QuestionKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    GOLD_OBJECT = "gold_object", "Gold: map on the object"
    GOLD_BACKGROUND = "gold_background", "Gold: map on empty background"
    INSTRUCTED = "instructed", "Gold: instructed response"
    REPEAT = "repeat", "Gold: repeat (test-retest)"


class Question(models.Model):
    """One item of the study: a stimulus, and for gold items what answer is expected."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="questions")
    kind = models.CharField(
        max_length=20, choices=QuestionKind.choices, default=QuestionKind.REGULAR
    )
    gold_expected = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    instruction = models.CharField(
        max_length=300, blank=True, help_text="Instructed items: the instruction shown."
    )
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats"
    )

    class Meta:
        ordering = ["study", "id"]

    @property
    def is_gold(self) -> bool:
        return self.kind != QuestionKind.REGULAR


class QuestionSet(models.Model):
    """One balanced cell of the design: the questions one participant answers."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="question_sets")
    index = models.PositiveIntegerField()
    questions: models.ManyToManyField[Question, QuestionSetItem] = models.ManyToManyField(
        Question, through="QuestionSetItem", related_name="sets"
    )

    class Meta:
        ordering = ["study", "index"]
        constraints = [
            models.UniqueConstraint(fields=["study", "index"], name="questionset_unique_index")
        ]


class QuestionSetItem(models.Model):
    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="set_items")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question_set", "question"], name="questionsetitem_unique"
            )
        ]
