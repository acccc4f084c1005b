"""The web's HTTP under uvicorn reuses its connections: database (a fixed set of request threads,
opsproject/http_threads.py) and Redis (one cache client per process, opsproject/cache.py)."""

from __future__ import annotations

import threading
import urllib.request

import MySQLdb
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.db import connection
from knox.models import AuthToken

from tests.support.celery_worker import child_env
from tests.support.processes import BIN, free_port, running

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 2
REQUESTS = 40


def _connections_opened() -> int:
    """MariaDB's count of connections ever opened (its `Connections` status)."""
    db = connection.settings_dict
    server = MySQLdb.connect(host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 3306), user=db["USER"])
    try:
        cursor = server.cursor()
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cursor.fetchone()[1])
    finally:
        server.close()


def _redis_connections_received() -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).info("stats")["total_connections_received"])


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def test_many_requests_share_the_threads_database_connections():
    if connection.vendor != "mysql":
        pytest.skip("counts MariaDB's connections")
    token = AuthToken.objects.create(user=User.objects.create_user("threads"))[1]
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off"]
    with running(argv, env=child_env(WEB_THREADS=str(THREADS))) as server:
        server.wait_for_line(r"Uvicorn running on", timeout=60)
        url = f"http://127.0.0.1:{port}/api/tickets/"
        assert _get(url, token) == 200  # the threads' first connections
        before, redis_before = _connections_opened(), _redis_connections_received()
        statuses: list[int] = []

        def client() -> None:
            statuses.extend(_get(url, token) for _ in range(REQUESTS // 4))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for each in clients:
            each.start()
        for each in clients:
            each.join(60)
        opened = _connections_opened() - before - 1  # our own status query
        redis_opened = _redis_connections_received() - redis_before - 1
    assert statuses == [200] * REQUESTS
    # Django's own ASGI handler opens one per request (40); here at most one per thread,
    # with room for the other tests' connections on a shared server.
    assert opened <= THREADS + 3, f"{opened} connections opened for {REQUESTS} requests"
    # Every request reads the maintenance flag from the cache: one client per process, not one
    # per request (Django's RedisCache under ASGI opened a connection for each).
    assert redis_opened <= THREADS + 3, f"{redis_opened} Redis connections for {REQUESTS} requests"


def test_cache_instances_share_one_client():
    if not settings.REDIS_URL:
        pytest.skip("the Redis cache")
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second
    assert first._cache is second._cache
