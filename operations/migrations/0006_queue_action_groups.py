"""`ops-admin` gains the queue actions audit.rights added since 0004/0005: purge a queue, restart the workers.

A frozen copy, as migrations must be; tests/operations/test_rights.py keeps 0004 (as 0005 moved it) and
this one together equal to audit.rights.GROUPS.
"""

from django.db import migrations

ACTIONS = (
    ("queueops", "failedjob", "clear_queue", "Can purge a queue's waiting messages"),
    ("queueops", "failedjob", "restart_workers", "Can restart every worker"),
)
GROUPS = {"ops-admin": ACTIONS}


def _permission(apps, app_label, model, codename, name):
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label=app_label, model=model
    )
    permission, _ = apps.get_model("auth", "Permission").objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    return permission


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name, permissions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*[_permission(apps, *spec) for spec in permissions])


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0005_moved_permissions"),
        ("queueops", "0004_queue_permissions"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
