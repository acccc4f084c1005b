"""audit.rights against the database: the groups migration grants exactly its map, superusers all."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group, Permission, User

from audit import rights

pytestmark = pytest.mark.django_db

groups_migration = importlib.import_module("operations.migrations.0004_ops_groups")
moves_migration = importlib.import_module("operations.migrations.0005_moved_permissions")


def _names(permissions) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def test_the_migrations_frozen_groups_are_audit_rights_groups():
    # 0004 granted them under the labels of the day; 0005 moved the models that left queueops.
    moved = {(source, model): target for source, target, model in moves_migration.MOVED}
    frozen = {
        name: {f"{moved.get((app, model), app)}.{codename}" for app, model, codename, _label in specs}
        for name, specs in groups_migration.GROUPS.items()
    }
    assert frozen == {name: set(permissions) for name, permissions in rights.GROUPS.items()}


def test_each_group_holds_exactly_its_permissions_and_they_are_real():
    for name, expected in rights.GROUPS.items():
        assert _names(Group.objects.get(name=name).permissions.all()) == set(expected), name
    every = _names(Permission.objects.all())
    assert set(rights.ACTIONS.values()) | {rights.READ} <= every


def test_every_action_is_refused_to_staff_and_readers_and_allowed_to_ops_admin_and_superusers():
    staff = User.objects.create_user("s", is_staff=True)
    reader = User.objects.create_user("r")
    reader.groups.add(Group.objects.get(name=rights.OPS_GROUP))
    admin = User.objects.create_user("a")
    admin.groups.add(Group.objects.get(name=rights.OPS_ADMIN_GROUP))
    root = User.objects.create_superuser("root", "root@example.com", "x")
    for action in rights.ACTIONS:
        assert not rights.may(staff, action) and not rights.may(reader, action), action
        assert rights.may(admin, action) and rights.may(root, action), action
    assert not rights.may_read(staff)
    assert rights.may_read(reader) and rights.may_read(admin) and rights.may_read(root)
    assert not rights.may(root, "no.such_action")
    admin.is_active = False
    assert not rights.may(admin, "failed_job.flush") and not rights.may_read(admin)
