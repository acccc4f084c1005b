"""The helpdesk's Celery tasks: the periodic SLA check."""

from helpdesk import services
from queueops.policy import policy_task


# Periodic (every minute), under the retry policy like every job: one retry, 10 s later, so it
# ends before the next run; a check that keeps failing is kept as a failed job.
@policy_task(name="helpdesk.check_sla", tries=2, backoff=(10,))
def check_sla() -> dict[str, int]:
    """Mark every ticket past an SLA due time as breached, once; returns counts for the run log."""
    return services.breach_overdue()
