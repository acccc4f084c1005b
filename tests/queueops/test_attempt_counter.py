"""Counting the runs of a policy task on the real Redis: what is written, and when."""

import time
import uuid

import pytest
from celery.app.task import Context

from opsproject.celery import app
from queueops import attempt_counter
from queueops.attempt_counter import ATTEMPTS_HEADER, RECORD_AFTER, attempts_key, begin, end, runs_before
from queueops.store import RedisStore, store
from tests.support.waiting import wait_until

BACKOFF = (1.0, 2.0)


@pytest.fixture
def redis_client():
    if not isinstance(store(), RedisStore):
        pytest.skip("the integration profile's Redis store")
    return store().client


def _request(retries: int = 0, redelivered: bool = False, **headers) -> Context:
    return Context(
        id=str(uuid.uuid4()), retries=retries, delivery_info={"redelivered": redelivered}, **headers
    )


def test_runs_before_a_publish_come_from_the_policy_header_else_the_retries():
    assert runs_before(_request()) == 0
    assert runs_before(_request(retries=2)) == 2
    assert runs_before(_request(retries=1, **{ATTEMPTS_HEADER: 3})) == 3
    assert runs_before(_request(retries=1, **{ATTEMPTS_HEADER: "junk"})) == 1


def test_a_short_first_run_writes_nothing(redis_client):
    request = _request()
    assert begin(request, BACKOFF, app) == 1
    end(request)
    time.sleep(RECORD_AFTER * 3)
    assert redis_client.get(attempts_key(request.id, 0)) is None


def test_a_first_run_still_going_after_record_after_is_counted(redis_client):
    request = _request(retries=1, **{ATTEMPTS_HEADER: 2})
    assert begin(request, BACKOFF, app) == 3
    key = attempts_key(request.id, 1)
    try:
        wait_until(lambda: redis_client.get(key) == "1", 5, "the long first run recorded", 0.01)
        assert redis_client.get(key) == "1"
        assert redis_client.ttl(key) > 3600
    finally:
        end(request)
        redis_client.delete(key)


def test_a_redelivered_run_adds_itself_to_the_runs_of_its_publish(redis_client):
    first = _request(retries=1, **{ATTEMPTS_HEADER: 1})
    key = attempts_key(first.id, 1)
    try:
        # The first delivery ran long enough to be recorded, then its worker was killed.
        begin(first, BACKOFF, app)
        wait_until(lambda: redis_client.get(key) == "1", 5, "the first delivery recorded", 0.01)
        again = Context(first.__dict__ | {"delivery_info": {"redelivered": True}})
        assert begin(again, BACKOFF, app) == 3  # one run before the publish, two of it
        assert begin(again, BACKOFF, app) == 4
    finally:
        end(first)
        redis_client.delete(key)


def test_a_redelivered_message_that_never_ran_keeps_its_attempt(redis_client):
    request = _request(redelivered=True)
    try:
        assert begin(request, BACKOFF, app) == 1
    finally:
        redis_client.delete(attempts_key(request.id, 0))


def test_each_worker_process_gets_its_own_recorder():
    first = attempt_counter.recorder()
    assert attempt_counter.recorder() is first
    first.pid = -1  # as a forked child sees its parent's
    assert attempt_counter.recorder() is not first
