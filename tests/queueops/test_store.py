"""The shared store's counters on the real Redis: read back, or raised without a round trip."""

import os

import pytest

from queueops.store import RedisStore, store
from tests.support.waiting import wait_until

KEY = "queueops:test-store:counter"


@pytest.fixture
def redis_store():
    redis_store = store()
    if not isinstance(redis_store, RedisStore):
        pytest.skip("the integration profile's Redis store")
    redis_store.client.delete(KEY)
    yield redis_store
    redis_store.client.delete(KEY)


def test_incr_unread_raises_the_counter_and_sets_its_expiry(redis_store):
    assert redis_store.incr(KEY, 100) == 1
    redis_store.incr_unread(KEY, 200)
    redis_store.incr_unread(KEY, 200)
    # Redis runs one connection's commands in order; a read on another one may come first,
    # so wait for the second raise to be visible.
    wait_until(lambda: redis_store.client.get(KEY) == "3", 5, "the second raise", 0.01)
    assert 100 < redis_store.client.ttl(KEY) <= 200
    assert redis_store.incr(KEY, 100) == 4


def test_incr_unread_opens_a_new_connection_when_redis_closed_its_own(redis_store):
    redis_store.incr_unread(KEY, 100)
    pid, connection = redis_store._unread
    assert pid == os.getpid()
    # What a Redis restart or an idle timeout does to it: the server side closes.
    killed = redis_store.client.client_kill_filter(addr=_client_address(connection))
    assert killed == 1
    wait_until(lambda: redis_store.client.get(KEY) == "1", 5, "the first raise", 0.01)
    redis_store.incr_unread(KEY, 100)  # noticed before sending: nothing is lost
    assert redis_store._unread[1] is not connection
    wait_until(lambda: redis_store.client.get(KEY) == "2", 5, "the raise on the new connection", 0.01)


def _client_address(connection) -> str:
    host, port = connection._sock.getsockname()[:2]
    return f"{host}:{port}"
