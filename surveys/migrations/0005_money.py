"""Money: a per-study bonus cap, and paying as a permission of its own ("Can pay" group)."""

from typing import Any

from django.db import migrations, models

PAY_GROUP = "Can pay"
CODENAME = "can_pay"


def create_pay_group(apps: Any, schema_editor: Any) -> None:
    """The "Can pay" group holding ``surveys.can_pay``.

    Django creates a model's permissions only after every migration has run (post_migrate),
    so the permission is made here for the group to hold it now.
    """
    content_types = apps.get_model("contenttypes", "ContentType")
    permissions = apps.get_model("auth", "Permission")
    groups = apps.get_model("auth", "Group")
    study_type, _ = content_types.objects.get_or_create(app_label="surveys", model="study")
    permission, _ = permissions.objects.get_or_create(
        content_type=study_type,
        codename=CODENAME,
        defaults={"name": "Can approve, bonus and pay participants"},
    )
    group, _ = groups.objects.get_or_create(name=PAY_GROUP)
    group.permissions.add(permission)


def remove_pay_group(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name=PAY_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0004_deployment"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="study",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("can_pay", "Can approve, bonus and pay participants")],
                "verbose_name_plural": "studies",
            },
        ),
        migrations.AddField(
            model_name="study",
            name="bonus_cap",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="The largest bonus one participant may get (empty: the reward).",
                max_digits=8,
                null=True,
            ),
        ),
        migrations.RunPython(create_pay_group, remove_pay_group),
    ]
