"""The audit log: one AuditEntry per operator action, whoever took it and however it ended."""

from __future__ import annotations

import logging

from operations.models import AuditEntry

log = logging.getLogger(__name__)


def record(
    request,
    action: str,
    target: str = "",
    detail: dict | None = None,
    *,
    channel: str = AuditEntry.API,
    outcome: str = AuditEntry.OK,
) -> AuditEntry:
    """Write the entry (inside the caller's transaction, when there is one)."""
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    entry = AuditEntry.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        target=str(target)[:300],
        detail=detail or {},
        channel=channel,
        outcome=outcome,
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    log.info("audit: %s %s %s (%s, %s)", entry.username, action, entry.target, channel, outcome)
    return entry
