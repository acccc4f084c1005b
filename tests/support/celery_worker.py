"""A real `celery worker` process bound to the same database and broker as the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from opsproject.celery import app
from tests.support.processes import BIN, ManagedProcess, running


def database_url_for_children() -> str:
    """DATABASE_URL naming the database this test really uses (the test_ one, not the live one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "root"
    auth = f"{user}:{db['PASSWORD']}" if db["PASSWORD"] else user
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[connection.vendor]
    return f"{scheme}://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url_for_children(),
        "REDIS_URL": settings.REDIS_URL,
        "VAR_DIR": str(settings.VAR_DIR),
        **extra,
    }


@contextmanager
def celery_worker(
    *args: str, include: str = "", queues: str = "celery", purge: bool = True
) -> Iterator[ManagedProcess]:
    """Start a worker after emptying its queues (unless told not to), yield it once it is ready."""
    if purge:
        app.control.purge()
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=2", "--without-gossip", "--without-mingle", f"--queues={queues}", *args]
    if include:
        argv.append(f"--include={include}")
    with running(argv, env=child_env()) as worker:
        worker.wait_for_line(r"ready\.", timeout=60)
        yield worker
