"""Webhook deliveries deduplicated on what was signed and resolved through the API; the
workspace's signing secret kept where the subscription step put it."""

from django.db import migrations, models

RESOLUTIONS = [
    ("applied", "Applied to a study of ours"),
    ("unmatched", "Names nothing we know yet: the API is asked whose it is"),
    ("foreign", "Another study's, says the API: never acted on"),
    ("ignored", "Nothing to act on"),
]


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="HookSecret",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("recruiter", models.CharField(max_length=20)),
                ("workspace_id", models.CharField(max_length=100)),
                ("value", models.CharField(max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("recruiter", "workspace_id"), name="hooksecret_unique_workspace"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="hookevent",
            name="digest",
            field=models.CharField(
                blank=True, help_text="SHA-256 of the signed timestamp and body.", max_length=64
            ),
        ),
        migrations.AddField(
            model_name="hookevent",
            name="resolution",
            field=models.CharField(blank=True, choices=RESOLUTIONS, max_length=20),
        ),
        migrations.AddIndex(
            model_name="hookevent",
            index=models.Index(fields=["recruiter", "resolution"], name="hookevent_resolution_idx"),
        ),
        migrations.AddConstraint(
            model_name="hookevent",
            constraint=models.UniqueConstraint(
                condition=~models.Q(digest=""),
                fields=("recruiter", "digest"),
                name="hookevent_unique_digest",
            ),
        ),
    ]
