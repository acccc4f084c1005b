"""What the apps' admin pages share with the dashboard and the ops API: audit.rights, and the audit log.

`OperatorsMayRead` lets operators (audit.rights.READ) see an operations page, as they see the
same rows on the dashboard and in the API; `ReadOnlyAdmin` is such a page of records nobody
adds, changes or deletes by hand; `may` answers the `has_<name>_permission` hooks of
admin actions declared with `permissions=[...]` from audit.rights; `record` writes an
admin action's audit entry (door "admin"), so Django's LogEntry is not the only trace;
`AuditedDeletes` writes one per object an admin page deletes.
"""

from __future__ import annotations

from django.contrib import admin

from audit import rights
from audit.log import record as _record
from audit.models import AuditEntry


class OperatorsMayRead:
    def has_view_permission(self, request, obj=None) -> bool:
        return rights.may_read(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return rights.may_read(request.user) or super().has_module_permission(request)


class ReadOnlyAdmin(OperatorsMayRead, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def may(request, action: str) -> bool:
    return rights.may(request.user, action)


def record(request, action: str, target: str = "", detail: dict | None = None, **kwargs) -> AuditEntry:
    return _record(request, action, target, detail, channel=AuditEntry.ADMIN, **kwargs)


class AuditedDeletes:
    """A ModelAdmin mixin: each object deleted (one, or a selection) writes a `delete_action`
    entry, named and described by `described` as it was before the delete (a cascade included)."""

    delete_action = ""

    def described(self, obj) -> tuple[str, dict | None]:
        return str(obj), None

    def delete_model(self, request, obj):
        target, detail = self.described(obj)
        super().delete_model(request, obj)
        record(request, self.delete_action, target, detail)

    def delete_queryset(self, request, queryset):
        rows = [self.described(obj) for obj in queryset]
        super().delete_queryset(request, queryset)
        for target, detail in rows:
            record(request, self.delete_action, target, detail)
