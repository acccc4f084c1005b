"""The permissions of the models that left queueops follow them (alerts.alert, scheduler.managedjob,
scheduler.jobrun), so every group and user keeps what it was granted.

Django names a permission by its content type's app label, and would otherwise create new,
ungranted permissions under the new labels and leave the granted ones behind on stale content
types. Renaming the content type moves its permissions at once. Where the new content type
exists already (post_migrate ran in between), the grants are copied onto it and the old one goes.
"""

from django.conf import settings
from django.db import migrations

MOVED = [
    ("queueops", "alerts", "alert"),
    ("queueops", "scheduler", "managedjob"),
    ("queueops", "scheduler", "jobrun"),
]


def _move(apps, source: str, target: str, model: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    old = ContentType.objects.filter(app_label=source, model=model).first()
    if old is None:
        return
    new = ContentType.objects.filter(app_label=target, model=model).first()
    if new is None:
        old.app_label = target
        old.save(update_fields=["app_label"])
        return
    for permission in Permission.objects.filter(content_type=old):
        kept = Permission.objects.filter(content_type=new, codename=permission.codename).first()
        if kept is None:
            permission.content_type = new
            permission.save(update_fields=["content_type"])
            continue
        for group in Group.objects.filter(permissions=permission):
            group.permissions.add(kept)
        for user in User.objects.filter(user_permissions=permission):
            user.user_permissions.add(kept)
    old.delete()


def forwards(apps, schema_editor):
    for source, target, model in MOVED:
        _move(apps, source, target, model)


def backwards(apps, schema_editor):
    for source, target, model in MOVED:
        _move(apps, target, source, model)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("operations", "0004_ops_groups"),
        ("queueops", "0003_alert_and_schedule_moved"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
