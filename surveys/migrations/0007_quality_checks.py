"""Valid quality checks: the instructed items and repeats a study declares, practice pictures
for the instructions, and the browser's time from the scale's unlock to the answer."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0006_stimulus_measures")]

    operations = [
        migrations.AddField(
            model_name="study",
            name="quality_checks",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Instructed items and test-retest repeats per set.",
            ),
        ),
        migrations.AddField(
            model_name="stimulus",
            name="practice",
            field=models.BooleanField(
                default=False,
                help_text="A practice picture of the instructions (an image no question shows).",
            ),
        ),
        migrations.AlterField(
            model_name="stimulus",
            name="map_override",
            field=models.CharField(
                blank=True,
                help_text="Synthetic maps: 'object' on the object, 'background' on empty "
                "background.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="response",
            name="unlocked_rt_ms",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="From the scale's unlock to the answer, in the browser.",
                null=True,
            ),
        ),
    ]
