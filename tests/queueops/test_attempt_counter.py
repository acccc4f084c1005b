"""Counting the runs of a policy task on the real Redis: what is written, and when."""

import uuid

import pytest
from celery.app.task import Context

from keyvalue import redis_client as shared_redis
from opsproject.celery import app
from queueops.attempt_counter import ATTEMPTS_HEADER, attempts_key, begin, runs_before

BACKOFF = (1.0, 2.0)


@pytest.fixture
def redis_client():
    client = shared_redis()
    if client is None:
        pytest.skip("the integration profile's Redis store")
    return client


def _request(retries: int = 0, redelivered: bool = False, **headers) -> Context:
    return Context(
        id=str(uuid.uuid4()), retries=retries, delivery_info={"redelivered": redelivered}, **headers
    )


def test_runs_before_a_publish_come_from_the_policy_header_else_the_retries():
    assert runs_before(_request()) == 0
    assert runs_before(_request(retries=2)) == 2
    assert runs_before(_request(retries=1, **{ATTEMPTS_HEADER: 3})) == 3
    assert runs_before(_request(retries=1, **{ATTEMPTS_HEADER: "junk"})) == 1


def test_every_run_is_counted_with_its_expiry(redis_client):
    request = _request(retries=1, **{ATTEMPTS_HEADER: 2})
    key = attempts_key(request.id, 1)
    try:
        assert begin(request, BACKOFF, app) == 3
        assert redis_client.get(key) == "1"
        assert redis_client.ttl(key) > 3600
    finally:
        redis_client.delete(key)


def test_a_redelivered_run_adds_itself_to_the_runs_of_its_publish(redis_client):
    first = _request(retries=1, **{ATTEMPTS_HEADER: 1})
    key = attempts_key(first.id, 1)
    try:
        assert begin(first, BACKOFF, app) == 2  # one run before the publish, the first of it
        again = Context(first.__dict__ | {"delivery_info": {"redelivered": True}})
        assert begin(again, BACKOFF, app) == 3  # its worker was killed: two runs of the publish
        assert begin(again, BACKOFF, app) == 4
    finally:
        redis_client.delete(key)


def test_a_redelivered_message_that_never_ran_keeps_its_attempt(redis_client):
    request = _request(redelivered=True)
    try:
        assert begin(request, BACKOFF, app) == 1
    finally:
        redis_client.delete(attempts_key(request.id, 0))
