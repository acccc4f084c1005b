"""What the apps' admin pages share with the dashboard and the ops API: audit.rights, and the audit log.

`OperatorsMayRead` lets operators (audit.rights.READ) see an operations page, as they see the
same rows on the dashboard and in the API; `may` answers the `has_<name>_permission` hooks of
admin actions declared with `permissions=[...]` from audit.rights; `record` writes an
admin action's audit entry (door "admin"), so Django's LogEntry is not the only trace.
"""

from __future__ import annotations

from audit import rights
from audit.log import record as _record
from audit.models import AuditEntry


class OperatorsMayRead:
    def has_view_permission(self, request, obj=None) -> bool:
        return rights.may_read(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return rights.may_read(request.user) or super().has_module_permission(request)


def may(request, action: str) -> bool:
    return rights.may(request.user, action)


def record(request, action: str, target: str = "", detail: dict | None = None, **kwargs) -> AuditEntry:
    return _record(request, action, target, detail, channel=AuditEntry.ADMIN, **kwargs)
