"""Hostile JSON bodies on the anonymous POST endpoints are a 400, never a 500 or a traceback."""

from __future__ import annotations

import json

import pytest

from tests.reliability.fuzz_http import unexpected_tracebacks
from tests.security.support import asgi_server, request

pytestmark = pytest.mark.django_db(transaction=True)

BODIES = {
    ("/api/auth/token/", "nested"): b"[" * 100_000,
    ("/broadcasting/auth", "nested"): b"[" * 100_000,
    ("/broadcasting/auth", "scalar"): b"1e99999",
    ("/broadcasting/auth", "list"): b"[]",
    # Past the username column of django-axes' failed-login table (255).
    ("/api/auth/token/", "long username"): json.dumps({"username": "a" * 300, "password": "x"}).encode(),
}


def test_hostile_json_is_a_400():
    with asgi_server(API_THROTTLE_ANON="1000/minute") as server:
        answers = {
            key: request(
                "POST", f"{server.base}{key[0]}", body=body, headers={"Content-Type": "application/json"}
            )
            for key, body in BODIES.items()
        }
        lines = list(server.process.lines)
    for key, answer in answers.items():
        assert answer.status == 400, (key, answer.status, answer.body[:200])
    assert unexpected_tracebacks(lines, ()) == []
