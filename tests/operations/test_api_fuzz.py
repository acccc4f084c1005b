"""Schemathesis against /api/schema/: every ops operation, fuzzed in-process, as an operator.

Checks: no 5xx, every status code and content type documented, every response body valid
against its schema, negative data rejected with a 4xx, and the credentials actually required.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.notices import raise_alert
from mailops.models import Suppression
from tests.operations.conftest import failed_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]


@pytest.fixture
def api_schema(db):
    """The schema, loaded from the WSGI app that also serves the calls, inside the test's transaction."""
    from opsproject.wsgi import application

    # Like Django's test client: a request must not close the connection holding the test's
    # transaction (the app is called directly here, so its request signals would).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex="^/api/ops/")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def ops_token(db) -> str:
    call_command("schedule_sync", verbosity=0)
    for n in range(1, 4):
        failed_job(n)
    raise_alert("ops.fuzz", "An alert to look at", source="tests")
    Suppression.objects.create(address="fuzz@example.com", reason="manual", source="operator")
    return AuthToken.objects.create(user=make_user("fuzzy-ops", ops_admin=True))[1]


# Not schemathesis.pytest.from_fixture: its lazy loader writes pytest's private `_nodeid`,
# which pytest 9 no longer has. Each operation runs as its own Hypothesis test here instead.
FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


def test_every_ops_operation_holds_to_its_schema(api_schema, ops_token):
    headers = {"Authorization": f"Token {ops_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25, [op.label for op in operations]
    failures = {}
    for operation in operations:
        # Valid requests (must not fail) and invalid ones (must be refused with a 4xx).
        positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
        cases = operation.as_strategy(positive) | operation.as_strategy(negative)

        @FUZZ
        @given(case=cases)
        def fuzz(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except BaseException as exc:
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
