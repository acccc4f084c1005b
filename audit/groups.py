"""The operator groups of audit.rights, made again wherever they are missing after a migrate.

Operations' migrations 0004 and 0006 create the `ops` and `ops-admin` groups once. A database
emptied and migrated again (Django's flush, as a transactional test does it, or a schema restored
without its auth rows) gets its permissions back from Django's own post_migrate handler but not
the groups: this puts back any group of `rights.GROUPS` that does not exist, with its permissions.
A group that exists is left as it is, so permissions an administrator changed are kept.
"""

from __future__ import annotations

from django.apps import apps as global_apps

from audit import rights


def create_missing_groups(sender, apps=global_apps, using="default", **kwargs) -> None:
    """post_migrate receiver: once every permission a missing group needs exists, create it."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, wanted in rights.GROUPS.items():
        if group_model.objects.using(using).filter(name=name).exists():
            continue
        found = []
        for permission in wanted:
            app_label, codename = permission.split(".")
            match = permission_model.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
            found.extend(match[:1])
        if len(found) < len(wanted):
            continue  # an app later in the signal's round has not made its permissions yet
        group = group_model.objects.using(using).create(name=name)
        group.permissions.set(found)
