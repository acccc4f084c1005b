"""The shared store's counters on the real Redis: read back, or raised without a round trip."""

import os
import time

import pytest

from queueops.store import RedisStore, store

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
    assert _eventually(lambda: redis_store.client.get(KEY) == "3")
    assert 100 < redis_store.client.ttl(KEY) <= 200
    assert redis_store.incr(KEY, 100) == 4


def test_incr_unread_opens_a_new_connection_when_redis_closed_its_own(redis_store):
    redis_store.incr_unread(KEY, 100)
    pid, connection = redis_store._unread
    assert pid == os.getpid()
    # What a Redis restart or an idle timeout does to it: the server side closes.
    killed = redis_store.client.client_kill_filter(addr=_client_address(connection))
    assert killed == 1
    assert _eventually(lambda: redis_store.client.get(KEY) == "1")
    redis_store.incr_unread(KEY, 100)  # noticed before sending: nothing is lost
    assert redis_store._unread[1] is not connection
    assert _eventually(lambda: redis_store.client.get(KEY) == "2")


def _client_address(connection) -> str:
    host, port = connection._sock.getsockname()[:2]
    return f"{host}:{port}"


def _eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
