"""Tasks the scheduler tests send through a real worker (loaded with --include)."""

from celery import shared_task


@shared_task(name="tests.noop")
def noop() -> str:
    return "ok"


@shared_task(name="tests.explode")
def explode() -> None:
    raise RuntimeError("scheduled job failed on purpose")
