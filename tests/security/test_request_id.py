"""Attacks on the request id: a forged X-Request-ID or task header never reaches a log line as is."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import structlog
from celery import signals

from mailops.tasks import send_message
from opsproject import logs
from tests.realtime.support import asgi_server
from tests.support.waiting import wait_until

HOSTILE = [
    'x"}{"level":"critical"}',
    "short",
    "a" * 129,
    "id with spaces",
    "ünïcode-123456",
    "../../etc/passwd",
    "well-formed-1234\n",  # `$` matches before a final newline: a broken line in plain logs
]


def head(url: str, headers: dict):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


@pytest.mark.parametrize("header", [None, "", *HOSTILE])
def test_a_malformed_request_id_is_replaced(header):
    made = logs.request_id_from(header)
    assert made != header and len(made) == 32 and logs.REQUEST_ID.match(made)


@pytest.mark.django_db(transaction=True)
def test_a_hostile_request_id_is_replaced_and_the_response_names_the_one_used():
    with asgi_server(LOG_FORMAT="json") as web:
        for hostile in HOSTILE[:4]:
            status, headers = head(f"{web.base}/api/tickets/", {"X-Request-ID": hostile})
            assert status == 401
            assert headers["X-Request-ID"] != hostile and len(headers["X-Request-ID"]) == 32
        status, kept = head(f"{web.base}/api/tickets/", {"X-Request-ID": "good-id.1234:abc"})
        assert kept["X-Request-ID"] == "good-id.1234:abc"
        status, made = head(f"{web.base}/api/tickets/", {})
        assert made["X-Request-ID"] and made["X-Request-ID"] != kept["X-Request-ID"]

        def request_lines():
            lines = [json.loads(line) for line in list(web.process.lines) if line.startswith("{")]
            return [line for line in lines if line["logger"] == "opsproject.requests"]

        wait_until(lambda: len(request_lines()) >= 6, timeout=30, what="the six request lines")
        # Each line is one JSON object; the forged id made no line or level of its own.
        assert all(line["level"] == "info" for line in request_lines())
        assert not any(line["request_id"] in HOSTILE for line in request_lines())


@pytest.mark.parametrize("header", HOSTILE)
def test_a_task_header_with_a_malformed_request_id_is_not_bound(header):
    task = send_message
    task.push_request(id="task-1", request_id=header)
    try:
        signals.task_prerun.send(sender=task, task_id="task-1", task=task, args=(), kwargs={})
        context = structlog.contextvars.get_contextvars()
        assert "request_id" not in context
        assert context["task_id"] == "task-1" and context["task_name"] == "mailops.send_message"
    finally:
        signals.task_postrun.send(sender=task, task_id="task-1", task=task, args=(), kwargs={}, retval=None)
        task.pop_request()
    assert structlog.contextvars.get_contextvars() == {}
