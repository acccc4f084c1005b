"""A task goes through a real `celery worker` process and its result comes back."""

import os

import pytest
from django.db import connection

from tests.opsproject.tasks import where_am_i
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
