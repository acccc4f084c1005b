"""The web's HTTP under uvicorn reuses its connections: database (a fixed set of request threads,
opsproject/http_threads.py) and Redis (one cache client per process, opsproject/cache.py)."""

from __future__ import annotations

import threading
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.db import connection
from knox.models import AuthToken

from tests.support.celery_worker import child_env
from tests.support.counting_proxy import CountingProxy
from tests.support.processes import BIN, free_port, running

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 2
REQUESTS = 40


def _upstream_of(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _through(url: str, proxy: CountingProxy) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}"))


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
    env = child_env(WEB_THREADS=str(THREADS))
    # Only the server under test connects through these: their counts are its connections alone.
    with (
        CountingProxy(_upstream_of(env["DATABASE_URL"], 3306)) as database,
        CountingProxy(_upstream_of(env["REDIS_URL"], 6379)) as cache,
        running(
            argv,
            env={
                **env,
                "DATABASE_URL": _through(env["DATABASE_URL"], database),
                "REDIS_URL": _through(env["REDIS_URL"], cache),
            },
        ) as server,
    ):
        server.wait_for_line(r"Uvicorn running on", timeout=60)
        url = f"http://127.0.0.1:{port}/api/tickets/"
        assert _get(url, token) == 200  # the threads' first connections
        before, redis_before = database.accepted, cache.accepted
        statuses: list[int] = []

        def client() -> None:
            statuses.extend(_get(url, token) for _ in range(REQUESTS // 4))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for each in clients:
            each.start()
        for each in clients:
            each.join(60)
        opened = database.accepted - before
        redis_opened = cache.accepted - redis_before
    print(f"opened {opened} database and {redis_opened} Redis connections for {REQUESTS} requests")
    assert statuses == [200] * REQUESTS
    # Django's own ASGI handler opens one per request (40); here at most one per thread.
    assert opened <= THREADS, f"{opened} connections opened for {REQUESTS} requests"
    # Every request reads the maintenance flag from the cache: one client per process, not one
    # per request (Django's RedisCache under ASGI opened a connection for each).
    assert redis_opened <= THREADS, f"{redis_opened} Redis connections for {REQUESTS} requests"


def test_cache_instances_share_one_client():
    if not settings.REDIS_URL:
        pytest.skip("the Redis cache")
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second
    assert first._cache is second._cache
