import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import surveys.models.codes


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0008_preregistration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TrainingJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        default=surveys.models.codes.new_code,
                        editable=False,
                        max_length=32,
                        unique=True,
                    ),
                ),
                ("label", models.CharField(help_text="The imported run's label.", max_length=200)),
                (
                    "config_name",
                    models.CharField(help_text="The YAML file it started from.", max_length=200),
                ),
                ("config", models.JSONField(help_text="The resolved config, overrides applied.")),
                ("overrides", models.JSONField(blank=True, default=list)),
                ("run_dir", models.CharField(max_length=1000, unique=True)),
                ("queue", models.CharField(max_length=200)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("training", "Training"),
                            ("importing", "Importing"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=20,
                    ),
                ),
                ("steps_done", models.PositiveIntegerField(default=0)),
                ("steps_total", models.PositiveIntegerField(default=0)),
                (
                    "message",
                    models.CharField(blank=True, help_text="The latest log line.", max_length=300),
                ),
                (
                    "history",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Per epoch: phase, epoch and training loss.",
                    ),
                ),
                ("error", models.TextField(blank=True)),
                (
                    "claim",
                    models.CharField(
                        blank=True,
                        help_text="The delivery that works on the job now.",
                        max_length=32,
                    ),
                ),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="training_jobs",
                        to="surveys.run",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("steps_done__lte", models.F("steps_total"))),
                        name="trainingjob_steps_within_total",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ("queued", "training", "importing"))),
                        fields=("label",),
                        name="trainingjob_one_active_per_label",
                    ),
                ],
            },
        ),
    ]
