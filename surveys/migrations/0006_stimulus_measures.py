"""Objective measures of each stimulus's shown map, stored when it is rendered."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0005_money")]

    operations = [
        migrations.AddField(
            model_name="stimulus",
            name="measures",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Objective measures of the map shown, by name.",
            ),
        ),
    ]
