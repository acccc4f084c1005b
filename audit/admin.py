"""The audit log in the admin: read-only, for the operators who read it in the ops API too."""

from __future__ import annotations

from django.contrib import admin

from audit.admin_support import ReadOnlyAdmin
from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "action", "target", "channel", "outcome", "remote_addr")
    list_filter = ("action", "channel", "outcome")
    search_fields = ("username", "target", "action")
    date_hierarchy = "at"


# The user and group pages, audited where they change who holds which right.
from audit import auth_admin  # noqa: E402, F401
