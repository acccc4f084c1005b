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


# Each found answering 500 (an OverflowError in the query) or an unfiltered 200 (blanks).
HOSTILE_FILTERS = (
    "/api/ops/failed-jobs/?failed_after=9999-12-31T23:59:59-14:00",
    "/api/ops/failed-jobs/?failed_before=0001-01-01T00:00:00%2B01:00",
    "/api/ops/failed-jobs/?queue=%20",
    "/api/ops/audit/?username=%09",
)


def test_hostile_ops_list_filters_are_400s_over_http():
    from django.contrib.auth.models import User

    from tests.operations.conftest import ops_group_named
    from tests.security.support import api_token

    reader = User.objects.create_user("filter-reader")
    reader.groups.add(ops_group_named("ops"))
    headers = {"Authorization": f"Token {api_token(reader)}"}
    with asgi_server() as server:
        answers = {path: request("GET", f"{server.base}{path}", headers=headers) for path in HOSTILE_FILTERS}
        lines = list(server.process.lines)
    for path, answer in answers.items():
        assert answer.status == 400, (path, answer.status, answer.body[:200])
    assert unexpected_tracebacks(lines, ()) == []
