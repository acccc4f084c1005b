"""Periodic jobs of operations: the queue-history sample behind the dashboard's 24 h chart."""

from django.conf import settings

from scheduler.periodic import PeriodicJob, every

JOBS = [
    PeriodicJob(
        "operations.sample_queues",
        task="operations.sample_queues",
        schedule=every(settings.OPS_HISTORY_SAMPLE_SECONDS),
        description="Record each queue's size and oldest wait; fold and expire old samples.",
    )
]
