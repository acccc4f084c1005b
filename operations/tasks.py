"""The operations tasks: sampling the queue history."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="operations.sample_queues", ignore_result=True)
def sample_queues() -> dict:
    """One history sample of every known queue, then compaction (operations.history)."""
    from operations.history import sample

    rows = sample()
    return {"queues": len(rows)}
