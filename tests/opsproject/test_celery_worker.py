"""A task goes through a real `celery worker` process and its result comes back."""

import os

import pytest
from django.db import connection

from tests.opsproject.tasks import database_connection_id, queries_logged, where_am_i
from tests.support.celery_worker import celery_worker

INCLUDE = "tests.opsproject.tasks"


def _round_trip():
    with celery_worker(include=INCLUDE):
        result = where_am_i.delay(2, 3).get(timeout=30)
    assert result["sum"] == 5
    assert result["pid"] != os.getpid(), "the task must run in the worker process, not here"
    assert result["vendor"] == connection.vendor
    assert result["database"] == connection.settings_dict["NAME"]
    return result


@pytest.mark.django_db(transaction=True)
def test_task_runs_in_a_real_worker_over_redis_and_mariadb():
    result = _round_trip()
    assert result["vendor"] == "mysql"
    assert result["broker"] == "redis"


@pytest.mark.embedded
@pytest.mark.django_db(transaction=True)
def test_task_runs_in_a_real_worker_over_the_filesystem_broker():
    result = _round_trip()
    assert result["vendor"] == "sqlite"
    assert result["broker"] == "filesystem"


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_and_replaces_one_the_server_killed():
    # --concurrency=1: every task on the one pool process, so on one connection.
    with celery_worker("--concurrency=1", include=INCLUDE):
        first = database_connection_id.delay().get(timeout=60)
        assert database_connection_id.delay().get(timeout=60) == first, "one connection per task"
        with connection.cursor() as cursor:
            cursor.execute(f"KILL {int(first)}")  # as a MariaDB restart or wait_timeout would
        replaced = database_connection_id.delay().get(timeout=60)
    assert replaced != first, "the dead connection was dropped before the task, not used"


@pytest.mark.django_db(transaction=True)
def test_a_worker_forgets_the_queries_logged_before_each_task():
    # As Django forgets them at each request: a DEBUG worker would hold its last 9,000 queries.
    with celery_worker("--concurrency=1", include=INCLUDE):
        counts = [queries_logged.delay().get(timeout=60) for _ in range(4)]
    # Each task's own (its SELECT, the result backend's writes), not every earlier task's too;
    # the first also holds the connection's set-up.
    assert len(set(counts[1:])) == 1, counts
