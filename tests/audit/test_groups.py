"""audit.groups: the operator groups come back after a flush, and a group that exists is kept."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from audit import rights


def _names(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_gets_its_operator_groups_back():
    call_command("flush", interactive=False, verbosity=0)  # what a transactional test's end does
    for name, wanted in rights.GROUPS.items():
        assert _names(Group.objects.get(name=name)) == set(wanted), name


@pytest.mark.django_db(transaction=True)
def test_an_existing_group_is_left_as_the_administrator_made_it():
    Group.objects.filter(name=rights.OPS_GROUP).delete()
    own = Group.objects.create(name=rights.OPS_GROUP)
    own.permissions.set([Permission.objects.get(codename="view_group")])
    call_command("migrate", verbosity=0)  # post_migrate again, nothing to apply
    assert _names(Group.objects.get(name=rights.OPS_GROUP)) == {"auth.view_group"}
    admin = Group.objects.get(name=rights.OPS_ADMIN_GROUP)
    assert _names(admin) == set(rights.GROUPS[rights.OPS_ADMIN_GROUP])
