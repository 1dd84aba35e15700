"""Admin pages of the model catalogue (import ``surveys.catalogue.admin`` from ``surveys.admin``).

Runs are added with ``manage.py import_run``, never by hand, and a name review is a record of who
decided what: both are read-only here, and a review can only be added through the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from surveys.models import NameReview, ProposedName, Prototype, PrototypeImage, Run, RunClass

# django-stubs makes the admin classes generic for the type checker only; at run time they
# cannot be subscripted (without django_stubs_ext, a development tool).
if TYPE_CHECKING:
    RunAdminBase = admin.ModelAdmin[Run]
    PrototypeAdminBase = admin.ModelAdmin[Prototype]
    NameReviewAdminBase = admin.ModelAdmin[NameReview]
    RunClassInlineBase = admin.TabularInline[RunClass, Run]
    PrototypeImageInlineBase = admin.TabularInline[PrototypeImage, Prototype]
    ProposedNameInlineBase = admin.StackedInline[ProposedName, Prototype]
    NameReviewInlineBase = admin.TabularInline[NameReview, Prototype]
else:
    RunAdminBase = PrototypeAdminBase = NameReviewAdminBase = admin.ModelAdmin
    RunClassInlineBase = PrototypeImageInlineBase = NameReviewInlineBase = admin.TabularInline
    ProposedNameInlineBase = admin.StackedInline


class RunClassInline(RunClassInlineBase):
    model = RunClass
    extra = 0
    fields = ["index", "name"]
    readonly_fields = ["index"]


@admin.register(Run)
class RunAdmin(RunAdminBase):
    list_display = [
        "label",
        "kind",
        "similarity",
        "dataset_name",
        "num_classes",
        "num_prototypes",
        "test_accuracy",
        "imported_at",
    ]
    list_filter = ["kind", "similarity", "dataset_name"]
    search_fields = ["label", "code", "run_dir"]
    readonly_fields = [
        "code",
        "kind",
        "similarity",
        "run_dir",
        "dataset_dir",
        "fingerprint",
        "num_classes",
        "num_prototypes",
        "test_accuracy",
        "config",
        "evaluation",
        "interpretability",
        "sharing_histogram",
        "class_graph",
        "class_graph_graphml",
        "imported_at",
        "updated_at",
    ]
    inlines = [RunClassInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class PrototypeImageInline(PrototypeImageInlineBase):
    model = PrototypeImage
    extra = 0
    fields = ["rank", "image_id", "score", "file"]
    readonly_fields = ["rank", "image_id", "score", "file"]


class ProposedNameInline(ProposedNameInlineBase):
    model = ProposedName
    extra = 0
    readonly_fields = ["kind", "part", "confidence", "purity", "attributes", "evidence"]


class NameReviewInline(NameReviewInlineBase):
    model = NameReview
    extra = 0
    fields = ["reviewed_at", "reviewer", "decision", "name", "note"]
    readonly_fields = ["reviewed_at", "reviewer", "decision", "name", "note"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Prototype)
class PrototypeAdmin(PrototypeAdminBase):
    list_display = ["__str__", "run", "index", "original_index"]
    list_filter = ["run"]
    search_fields = ["run__label", "proposed_name__name"]
    readonly_fields = ["run", "index", "original_index", "provenance", "metrics", "source_patch"]
    filter_horizontal = ["classes"]
    inlines = [ProposedNameInline, PrototypeImageInline, NameReviewInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(NameReview)
class NameReviewAdmin(NameReviewAdminBase):
    list_display = ["prototype", "decision", "name", "reviewer", "reviewed_at"]
    list_filter = ["decision", "prototype__run"]
    search_fields = ["name", "prototype__run__label", "reviewer__username"]
    readonly_fields = ["prototype", "decision", "name", "note", "reviewer", "reviewed_at"]
    date_hierarchy = "reviewed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
