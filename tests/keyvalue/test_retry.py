"""Every Redis client the project configures retries once, and only a lost connection
(opsproject/redis_retry.py): counted against a hung Redis, a refused port and a real Redis that
closed a pooled connection. Attempts are counted, never timed."""

import asyncio
import json
import os
import subprocess
import uuid

import pytest
import redis

from keyvalue import async_redis_client, store
from tests.health.support import BlackHole, closed_port
from tests.support.processes import PYTHON, REPO
from tests.support.waiting import wait_until

CLIENTS = {"keyvalue", "keyvalue_async", "cache", "channel_layer"}


def _attempts(redis_url: str) -> dict[str, dict]:
    """One call through each client, in a child whose settings read `redis_url`."""
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_SOCKET_TIMEOUT": "0.3"}
    done = subprocess.run(
        [PYTHON, "-m", "tests.keyvalue.redis_attempts"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_hung_redis_costs_each_client_one_attempt():
    with BlackHole() as hole:
        found = _attempts(f"redis://127.0.0.1:{hole.port}/5")
        assert set(found) == CLIENTS
        assert all(call == {"connects": 1, "ended": "TimeoutError"} for call in found.values()), found
        # The listener's own count agrees: each connect reached the hung Redis, none more.
        wait_until(lambda: hole.accepted >= len(CLIENTS), 30, "the hung Redis' connections")
        assert hole.accepted == len(CLIENTS)


def test_a_refused_port_is_tried_twice_by_each_client():
    found = _attempts(f"redis://127.0.0.1:{closed_port()}/5")
    assert set(found) == CLIENTS
    assert all(call == {"connects": 2, "ended": "ConnectionError"} for call in found.values()), found


@pytest.fixture
def real_redis(settings):
    if not settings.REDIS_URL:
        pytest.skip("the integration profile's Redis")
    admin = redis.Redis.from_url(settings.REDIS_URL)
    yield admin
    admin.close()


def test_a_pooled_connection_redis_closed_is_reconnected_by_the_store(real_redis):
    key = f"test-retry:{uuid.uuid4().hex}"
    client = store().client
    client.set(key, "kept", ex=60)
    real_redis.client_kill_filter(_id=client.client_id())  # the one pooled connection, now idle
    assert store().get(key) == "kept"
    real_redis.delete(key)


def test_a_pooled_connection_redis_closed_is_reconnected_by_the_async_client(real_redis):
    key = f"test-retry:{uuid.uuid4().hex}"
    real_redis.set(key, "kept", ex=60)

    async def read_after_a_kill():
        client = async_redis_client()
        try:
            real_redis.client_kill_filter(_id=await client.client_id())
            return await client.get(key)  # redis-py 8.1's asyncio pool hands the dead one out
        finally:
            await client.connection_pool.disconnect()

    assert asyncio.run(read_after_a_kill()) == "kept"
    real_redis.delete(key)
