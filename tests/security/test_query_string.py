"""A query string with more fields than Django parses is a 400 everywhere, never a 500 or a traceback."""

from __future__ import annotations

import pytest

from tests.reliability.fuzz_http import unexpected_tracebacks
from tests.security.support import asgi_server, request

pytestmark = pytest.mark.django_db(transaction=True)

MANY = "&".join(f"a{n}=1" for n in range(1001))  # DATA_UPLOAD_MAX_NUMBER_FIELDS is 1000
PATHS = (
    "/api/tickets/",
    "/api/auth/token/",
    "/api/ops/",
    "/api/schema/",
    "/broadcasting/history",
    "/admin/login/",
)


def test_too_many_query_fields_is_a_400():
    with asgi_server() as server:
        answers = {path: request("GET", f"{server.base}{path}?{MANY}") for path in PATHS}
        lines = list(server.process.lines)
    for path, answer in answers.items():
        assert answer.status == 400, (path, answer.status, answer.body[:200])
        assert answer.body == b"Too many fields in the query string.\n"
    assert unexpected_tracebacks(lines, ()) == []
