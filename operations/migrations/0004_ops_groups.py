"""The `ops` (read) and `ops-admin` (read and every action) groups hold exactly audit.rights' permissions.

The permissions are created here when they do not exist yet (Django creates them only after
all migrations ran), so the groups are complete on a fresh database too. The lists are frozen
copies of audit.rights.GROUPS, as migrations must be; tests/operations/test_rights.py keeps
them equal.
"""

from django.db import migrations

READ = ("audit", "auditentry", "view_operations", "Can read operations data (dashboard, ops API)")
ACTIONS = (
    ("backups", "backuprecord", "start_backup", "Can start a backup"),
    ("backups", "backupdrill", "start_drill", "Can start a restore drill"),
    ("mailops", "suppression", "manage_suppression", "Can add, change and remove suppressions"),
    ("queueops", "alert", "resolve_alert", "Can resolve alerts by hand"),
    ("queueops", "failedjob", "delete_failedjob", "Can delete failed job"),
    ("queueops", "failedjob", "flush_failedjob", "Can flush failed jobs (forget many at once)"),
    ("queueops", "failedjob", "retry_failedjob", "Can retry failed jobs"),
    ("queueops", "managedjob", "pause_managedjob", "Can pause and resume periodic jobs"),
    ("queueops", "managedjob", "run_managedjob", "Can run periodic jobs now"),
)
GROUPS = {"ops": (READ,), "ops-admin": (READ, *ACTIONS)}


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
        group.permissions.set([_permission(apps, *spec) for spec in permissions])


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("operations", "0003_auditentry_moved"),
        ("audit", "0001_initial"),
        ("backups", "0003_action_permissions"),
        ("mailops", "0003_action_permissions"),
        ("queueops", "0002_action_permissions"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
