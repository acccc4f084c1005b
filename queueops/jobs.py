"""Periodic jobs of queue operations: the backlog check and the daily cleanup."""

from scheduler.periodic import PeriodicJob, cron, every

JOBS = [
    PeriodicJob(
        "queueops.check_backlog",
        task="queueops.check_backlog",
        schedule=every(60),
        description="Compare queue sizes and waits with QUEUE_ALERTS; alert, remind, recover.",
        critical=True,
    ),
    PeriodicJob(
        "queueops.cleanup",
        task="queueops.cleanup",
        schedule=cron("30 3 * * *"),
        description="Delete old failed jobs, task results, expired sessions and run-log rows.",
    ),
]
