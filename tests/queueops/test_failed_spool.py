"""Failed jobs while the database is unreachable: spooled to Redis, written once it is back;
and the result backend waiting out an outage instead of failing a task before it ran."""

from types import SimpleNamespace

import pytest
from django.db import IntegrityError, OperationalError, connection

from opsproject.celery import app
from queueops.failed import flush_spool, record_failure, spooled
from queueops.models import FailedJob
from queueops.results import DatabaseBackend
from tests.queueops import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def _request(task_id: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=task_id,
        delivery_info={"exchange": "", "routing_key": "celery", "priority": 0},
        args=[1],
        kwargs={"note": "x"},
        hostname="w@h",
    )


class Refusing:
    """A database that does not answer: every query on this thread raises OperationalError
    (2002), as a stopped MariaDB does, for the first `times` queries (all when None)."""

    def __init__(self, times: int | None = None):
        self.left = times

    def __call__(self, execute, sql, params, many, context):
        if self.left is None or self.left > 0:
            if self.left is not None:
                self.left -= 1
            raise OperationalError(2002, "Can't connect to server")
        return execute(sql, params, many, context)


def test_a_failure_recorded_while_the_database_is_down_is_spooled_and_written_once_later(queue_env):
    with connection.execute_wrapper(Refusing()):
        assert record_failure(tasks.always_fails, _request("down-1"), ValueError("a"), attempts=3) is None
    assert spooled() == 1 and not FailedJob.objects.exists()

    assert flush_spool() == 1
    job = FailedJob.objects.get()
    assert (job.task_id, job.task, job.attempts, job.args, job.kwargs) == (
        "down-1",
        "tests.queueops.always_fails",
        3,
        [1],
        {"note": "x"},
    )
    assert job.exception == "builtins.ValueError" and job.message == "a"
    assert spooled() == 0 and flush_spool() == 0


def test_a_flush_while_the_database_is_still_down_keeps_the_spool(queue_env):
    with connection.execute_wrapper(Refusing()):
        record_failure(tasks.always_fails, _request("down-2"), ValueError("b"), attempts=3)
        assert flush_spool() == 0
    assert spooled() == 1
    assert flush_spool() == 1 and FailedJob.objects.filter(task_id="down-2").count() == 1


def test_a_spooled_failure_already_recorded_is_not_recorded_twice(queue_env):
    with connection.execute_wrapper(Refusing()):
        record_failure(tasks.always_fails, _request("twice"), ValueError("spooled"), attempts=3)
    record_failure(tasks.always_fails, _request("twice"), ValueError("direct"), attempts=3)
    assert flush_spool() == 1
    assert list(FailedJob.objects.values_list("task_id", "message")) == [("twice", "direct")]
    assert spooled() == 0


def test_the_result_backend_retries_while_the_database_does_not_answer():
    backend = DatabaseBackend(app=app)
    assert backend.exception_safe_to_retry(OperationalError(2002, "Can't connect"))
    assert not backend.exception_safe_to_retry(IntegrityError(1062, "Duplicate"))
    assert app.backend.always_retry is True and isinstance(app.backend, DatabaseBackend)

    app.backend._sleep = lambda seconds: None  # the retries' waits, not what is tested
    try:
        with connection.execute_wrapper(Refusing(times=2)):
            app.backend.store_result("outage-task", None, "STARTED")
    finally:
        del app.backend._sleep
    assert app.backend.get_state("outage-task") == "STARTED"
