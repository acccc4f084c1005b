"""Hostile requests to the realtime HTTP side at a real server: a 4xx with a reason, never a 500.

POST /broadcasting/auth and GET /broadcasting/history are open to anonymous clients (the
refusal, or public history, is the answer), so their input is anyone's.
"""

from __future__ import annotations

import pytest

from tests.realtime.support import asgi_server, http
from tests.security.test_websocket_frames import no_tracebacks

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with asgi_server() as running_server:
        yield running_server


AFTERS = {
    "a superscript digit": "%C2%B2",  # str.isdigit() is true for it, int() refuses it
    "5000 digits": "9" * 5000,  # past Python's int-from-string digit limit
    "a negative number": "-1",
    "a fraction": "1.5",
}


@pytest.mark.parametrize("after", AFTERS.values(), ids=AFTERS.keys())
def test_a_history_after_that_is_no_event_id_is_a_400(server, after):
    status, body = http("GET", f"{server.base}/broadcasting/history?channel=news&after={after}")
    assert status == 400, body
    assert body == {"detail": "after must be an event_id (a non-negative integer)"}
    no_tracebacks(server)


def test_public_history_still_answers(server):
    status, body = http("GET", f"{server.base}/broadcasting/history?channel=news&after=0")
    assert status == 200 and isinstance(body["events"], list), body


BODIES = {"a list": [1], "a string": "socket_id", "a number": 5}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_an_auth_request_whose_json_is_not_an_object_is_a_400(server, body):
    headers = {"Content-Type": "application/json"}
    status, answer = http("POST", f"{server.base}/broadcasting/auth", body, headers=headers, form=False)
    assert status == 400, answer
    assert "socket_id and channel_name" in answer["detail"]
    no_tracebacks(server)
