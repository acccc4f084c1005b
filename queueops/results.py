"""The Celery result backend: django-celery-results' database backend, waiting out an outage.

With `CELERY_TASK_TRACK_STARTED` a worker writes each task's STARTED state before running it.
django-celery-results retries only `InterfaceError`, but a MySQL/MariaDB server that is down or
restarting answers `OperationalError` (2002, 2006, 2013...): that first write failed, Celery
failed the task before its body ran, and the message, acknowledged, was gone. Here the database
not answering is retryable as well, so with `result_backend_always_retry` (settings) a worker
waits for the database, with backoff, up to `CELERY_RESULT_BACKEND_MAX_RETRIES` times, and then
runs the task. Only an outage longer than that still fails tasks.
"""

from __future__ import annotations

from contextlib import suppress

from django.db import InterfaceError, OperationalError, connections
from django_celery_results.backends.database import DatabaseBackend as ResultsDatabaseBackend


class DatabaseBackend(ResultsDatabaseBackend):
    """`django-db`, retrying while the database is unreachable."""

    def exception_safe_to_retry(self, exc):
        if isinstance(exc, (OperationalError, InterfaceError)):
            # This thread's connection may be the broken one: the next try opens a new one.
            with suppress(Exception):
                connections.close_all()
            return True
        return super().exception_safe_to_retry(exc)
