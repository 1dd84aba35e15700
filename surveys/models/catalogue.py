"""The model catalogue: trained runs, their classes and prototypes, and the names people gave them.

A :class:`Run` is one run directory imported with ``manage.py import_run``. Its prototypes carry
the projection provenance (which training patch each became), the name ``protopool name``
proposed with its evidence, and the objective interpretability metrics. What the researcher
decides about a name is a :class:`NameReview`; the newest review of a prototype is the one in
force, and the older ones stay as the record of who changed what and when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from surveys.models.codes import new_code


class RunKind(models.TextChoices):
    PROTOPOOL = "protopool", "ProtoPool"
    PROTOTREE = "prototree", "ProtoTree"


class Run(models.Model):
    """One trained run directory, registered in the catalogue."""

    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    label = models.CharField(
        max_length=200, help_text="Researcher-facing name; participants never see it."
    )
    kind = models.CharField(max_length=20, choices=RunKind.choices)
    similarity = models.CharField(max_length=40, blank=True)
    run_dir = models.CharField(max_length=1000, unique=True, help_text="Absolute path.")
    dataset_dir = models.CharField(max_length=1000, blank=True)
    dataset_name = models.CharField(
        max_length=200, help_text="The dataset column of the study's exports (e.g. CUB)."
    )
    fingerprint = models.CharField(
        max_length=128, help_text="The run's done.json fingerprint: what makes a re-import a no-op."
    )
    num_classes = models.PositiveIntegerField()
    num_prototypes = models.PositiveIntegerField()
    test_accuracy = models.FloatField(null=True, blank=True)
    config = models.JSONField(default=dict)
    evaluation = models.JSONField(default=dict)
    interpretability = models.JSONField(default=dict, blank=True)
    sharing_histogram = models.FileField(upload_to="catalogue/", blank=True)
    class_graph = models.FileField(upload_to="catalogue/", blank=True)
    class_graph_graphml = models.FileField(upload_to="catalogue/", blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "id"]

    def __str__(self) -> str:
        return self.label


class RunClass(models.Model):
    """A class of a run, by its label index."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=300)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="runclass_unique_index")
        ]

    def __str__(self) -> str:
        return self.name


class Prototype(models.Model):
    """A prototype of a run (pool index after pruning) with its provenance and metrics."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="prototypes")
    index = models.PositiveIntegerField(help_text="Pool index in the trained model.")
    original_index = models.PositiveIntegerField(help_text="Index before pruning.")
    classes = models.ManyToManyField(RunClass, related_name="prototypes", blank=True)
    provenance = models.JSONField(default=dict, help_text="projection.json's record.")
    metrics = models.JSONField(default=dict, blank=True, help_text="interpretability.json's.")
    source_patch = models.FileField(upload_to="catalogue/", blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="prototype_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.run.label} #{self.index}"

    @property
    def current_review(self) -> NameReview | None:
        return self.reviews.order_by("-reviewed_at", "-id").first()


class PrototypeImage(models.Model):
    """One of a prototype's top activating training images, as the gallery drew it."""

    prototype = models.ForeignKey(Prototype, on_delete=models.CASCADE, related_name="top_images")
    rank = models.PositiveIntegerField()
    image_id = models.CharField(max_length=500, help_text="The dataset's image path.")
    score = models.FloatField(null=True, blank=True)
    file = models.FileField(upload_to="catalogue/")

    class Meta:
        ordering = ["prototype", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["prototype", "rank"], name="prototypeimage_rank")
        ]


class ProposedName(models.Model):
    """The name ``protopool name`` proposed, with its evidence (names.json's entry)."""

    prototype = models.OneToOneField(
        Prototype, on_delete=models.CASCADE, related_name="proposed_name"
    )
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=40, help_text="part, part_free or unnamed.")
    part = models.CharField(max_length=100, blank=True)
    confidence = models.FloatField()
    purity = models.FloatField(null=True, blank=True)
    attributes = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name


class NameDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    EDITED = "edited", "Edited"
    REJECTED = "rejected", "Rejected"


class NameReview(models.Model):
    """A researcher's decision on a prototype's name; the newest one is in force."""

    prototype = models.ForeignKey(Prototype, on_delete=models.CASCADE, related_name="reviews")
    decision = models.CharField(max_length=20, choices=NameDecision.choices)
    name = models.CharField(
        max_length=300, blank=True, help_text="The name in force (empty when rejected)."
    )
    note = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="name_reviews"
    )
    reviewed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decision="edited", name=""),
                name="namereview_edit_has_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision}: {self.name}"
