import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0007_quality_checks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="study",
            name="preregistration",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="study",
            name="preregistration_text",
            field=models.TextField(blank=True, help_text="The frozen canonical text."),
        ),
        migrations.AddField(
            model_name="study",
            name="preregistration_sha256",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="study",
            name="preregistered_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="study",
            name="unblinded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="study",
            name="unblinded_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="condition",
            name="box",
            field=models.CharField(blank=True, default="", max_length=3),
        ),
        migrations.RemoveConstraint(model_name="condition", name="condition_unique_run"),
        migrations.AddConstraint(
            model_name="condition",
            constraint=models.UniqueConstraint(
                fields=("study", "run", "box"), name="condition_unique_run"
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="protocol_events",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Deviations recorded after the plan was frozen.",
            ),
        ),
    ]
