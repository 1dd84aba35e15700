"""Answer times in 64 bits: ``server_rt_ms`` of an answer given weeks after its question was
first shown overflowed PostgreSQL's 32-bit integer (2**31 ms is under 25 days)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_participant_identity")]

    operations = [
        migrations.AlterField(
            model_name="response",
            name="server_rt_ms",
            field=models.PositiveBigIntegerField(
                blank=True, help_text="From the page's first serving to the answer.", null=True
            ),
        ),
    ]
