"""The SLA policy: how long each priority may wait for a first response and for resolution.

The seconds come from `settings.HELPDESK_SLA` (one HELPDESK_SLA_* variable per kind and
priority, see docs/PRODUCTION_ENV.md) and are read at call time, so a changed setting applies to
the next ticket created or re-prioritised.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
KINDS = (FIRST_RESPONSE, RESOLUTION)


def due_times(start: datetime, priority: str) -> dict[str, datetime]:
    """When each SLA of a ticket created at `start` with `priority` falls due."""
    return {kind: start + timedelta(seconds=settings.HELPDESK_SLA[kind][priority]) for kind in KINDS}
