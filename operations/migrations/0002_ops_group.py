"""The `ops` group exists from the start: operators are added to it, no one has to create it."""

from django.db import migrations

OPS_GROUP = "ops"  # audit.rights.OPS_GROUP, frozen here as migrations must be


def create(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=OPS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("operations", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
