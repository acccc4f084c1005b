"""A request that needs an unreachable database gets a clear 503; the rest keep answering."""

import json
import urllib.error
import urllib.request

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from opsproject.outages import DependencyOutageMiddleware
from tests.support.processes import BIN, free_port, running


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_database_outage_is_a_503_with_retry_after_over_real_http():
    closed = free_port()  # nothing listens here: the database is "down"
    env = {"DATABASE_URL": f"mysql://root@127.0.0.1:{closed}/ops", "DATABASE_CONNECT_TIMEOUT": "1"}
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--port", str(port), "--lifespan", "off"]
    with running(argv, env=env) as server:
        server.wait_for_line(r"Uvicorn running", timeout=60)
        # A well-formed token (64 hex digits) is looked up in the database; a malformed one is not.
        token = {"Authorization": "Token " + "ab" * 32}
        status, headers, body = _get(f"http://127.0.0.1:{port}/api/tickets/", token)
        assert status == 503, body
        assert headers.get("Retry-After") == "5"
        assert "the database is not answering" in json.loads(body)["detail"]
        assert b"Traceback" not in body and str(closed).encode() not in body
        assert _get(f"http://127.0.0.1:{port}/health/live")[0] == 200


@pytest.mark.parametrize(
    "exception",
    [ValueError("a bug"), KeyError("x")],
)
def test_other_errors_are_left_alone(exception):
    middleware = DependencyOutageMiddleware(lambda request: None)
    assert middleware.process_exception(RequestFactory().get("/"), exception) is None


def test_redis_and_broker_outages_are_named():
    from amqp.exceptions import ConnectionError as AMQPConnectionError
    from amqp.exceptions import MessageNacked, RecoverableConnectionError
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError

    middleware = DependencyOutageMiddleware(lambda request: None)
    for exception, name in [
        (OperationalError("down"), "the database"),
        (RedisConnectionError("down"), "the cache"),
        (BrokerError("down"), "the task queue"),
        (AMQPConnectionError("connection closed"), "the task queue"),
        (RecoverableConnectionError("connection lost"), "the task queue"),
        (MessageNacked(), "the task queue"),
        (TimeoutError("x"), None),
    ]:
        response = middleware.process_exception(RequestFactory().get("/"), exception)
        if name is None:
            assert response is None
        else:
            assert response.status_code == 503 and name in json.loads(response.content)["detail"]
