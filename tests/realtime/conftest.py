"""Fixtures of the realtime tests: a uvicorn server per module, on the test database."""

import pytest

from tests.realtime.support import asgi_server


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """One real ASGI server for the module (the test database exists before it starts)."""
    with asgi_server() as running_server:
        yield running_server
