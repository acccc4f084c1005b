"""Fixtures of the alerts tests: the backlog check's queues come from the queueops tests."""

from tests.queueops.conftest import queue_env  # noqa: F401 - a fixture, used by name
