"""The operations tasks: sampling the queue history."""

from __future__ import annotations

from queueops.policy import policy_task


# Periodic, under the retry policy like every job: one retry, 10 s later, before the next sample.
@policy_task(name="operations.sample_queues", ignore_result=True, tries=2, backoff=(10,))
def sample_queues() -> dict:
    """One history sample of every known queue, then compaction (operations.history)."""
    from operations.history import sample

    rows = sample()
    return {"queues": len(rows)}
