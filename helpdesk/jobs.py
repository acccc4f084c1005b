"""Periodic jobs of the helpdesk: the SLA breach check."""

from scheduler.periodic import PeriodicJob, every

JOBS = [
    PeriodicJob(
        "helpdesk.check_sla",
        task="helpdesk.check_sla",
        schedule=every(60),
        description="Mark tickets past a due time as breached (once) and emit SlaBreached.",
        critical=True,
    ),
]
