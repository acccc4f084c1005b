"""The helpdesk's Celery tasks: the periodic SLA check."""

from celery import shared_task

from helpdesk import services


@shared_task(name="helpdesk.check_sla")
def check_sla() -> dict[str, int]:
    """Mark every ticket past an SLA due time as breached, once; returns counts for the run log."""
    return services.breach_overdue()
