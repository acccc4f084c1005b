"""Alert, ManagedJob and JobRun left queueops with state-only migrations: a database migrated
before the move keeps its rows, tables and granted permissions once migrated past it."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Alert
from scheduler.models import JobRun, ManagedJob

pytestmark = pytest.mark.django_db(transaction=True)

# The state of a database migrated at the commit before the move.
BEFORE = [
    ("operations", "0004_ops_groups"),
    ("queueops", "0002_action_permissions"),
    ("alerts", None),
    ("scheduler", None),
]


def _migrate(targets):
    """Migrate to `targets`; the historical models of the state reached."""
    state = MigrationExecutor(connection).migrate(targets)
    ContentType.objects.clear_cache()
    return state.apps


def test_rows_tables_and_grants_survive_the_move():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE)
        old.get_model("queueops", "Alert").objects.create(key="k", open_key="k", summary="from before")
        old.get_model("queueops", "JobRun").objects.create(
            job="j", task_id="t1", started_at="2026-01-01T00:00Z"
        )
        resolve = old.get_model("auth", "Permission").objects.get(
            codename="resolve_alert", content_type__app_label="queueops"
        )
        user = old.get_model("auth", "User").objects.create(username="granted-before")
        user.user_permissions.add(resolve)
        _migrate(leaves)
    finally:
        _migrate(leaves)
    assert Alert.objects.get(key="k").summary == "from before"
    assert JobRun.objects.get(task_id="t1").job == "j"
    assert [Alert._meta.db_table, ManagedJob._meta.db_table] == ["queueops_alert", "queueops_managedjob"]
    from django.contrib.auth.models import User

    assert User.objects.get(username="granted-before").has_perm("alerts.resolve_alert")
    assert not ContentType.objects.filter(app_label="queueops", model__in=["alert", "managedjob", "jobrun"])
