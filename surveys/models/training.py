"""Training jobs: a config trained into a run directory by a GPU worker, then imported.

A :class:`TrainingJob` is created by the catalogue page and carried out by the ``surveys.train``
Celery task. The worker that claims it writes its progress (steps done of the schedule, the
training loss per epoch) on the row, and touches ``heartbeat_at`` while it works, so that a
second delivery of the same job can tell a live worker from a dead one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from surveys.models.catalogue import Run
from surveys.models.codes import new_code


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# The statuses of a job a worker is (or was, until it died) working on.
ACTIVE_STATUSES = (TrainingStatus.QUEUED, TrainingStatus.TRAINING, TrainingStatus.IMPORTING)


class TrainingJob(models.Model):
    """One config to train and import, and how far it has come."""

    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    label = models.CharField(max_length=200, help_text="The imported run's label.")
    config_name = models.CharField(max_length=200, help_text="The YAML file it started from.")
    config = models.JSONField(help_text="The resolved config, overrides applied.")
    overrides = models.JSONField(default=list, blank=True)
    run_dir = models.CharField(max_length=1000, unique=True)
    queue = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED
    )
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True, help_text="The latest log line.")
    history = models.JSONField(
        default=list, blank=True, help_text="Per epoch: phase, epoch and training loss."
    )
    error = models.TextField(blank=True)
    claim = models.CharField(
        max_length=32, blank=True, help_text="The delivery that works on the job now."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(steps_done__lte=models.F("steps_total")),
                name="trainingjob_steps_within_total",
            ),
            # Studies name runs by their label: two trainings under one label would import two
            # runs no spec could tell apart.
            models.UniqueConstraint(
                fields=["label"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="trainingjob_one_active_per_label",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_status_display()})"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def percent(self) -> float:
        if self.status == TrainingStatus.DONE:
            return 100.0
        return 100.0 * self.steps_done / self.steps_total if self.steps_total else 0.0
