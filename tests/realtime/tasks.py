"""A task only the realtime tests load into a worker (`--include`): a broadcast from Celery."""

from celery import shared_task

from realtime import broadcast


@shared_task(name="tests.realtime.broadcast_from_worker")
def broadcast_from_worker(channel: str, n: int) -> int:
    return broadcast(channel, "worker.said", {"n": n})
