"""Admin for alerts: every episode, open or resolved, read-only (resolving is an audited action)."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert
from alerts.notices import duration_text
from audit import admin_support


class AlertStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(admin_support.ReadOnlyAdmin):
    # Not deletable: deleting an open alert would be an unaudited resolve; resolve it instead.
    list_display = ["key", "severity", "status", "summary", "opened_at", "resolved_at", "lasted", "reminders"]
    list_filter = [AlertStatusFilter, "severity", "source"]
    search_fields = ["key", "summary", "detail"]
    date_hierarchy = "opened_at"
    fields = readonly_fields = [
        *("key", "source", "severity", "summary", "detail", "opened_at", "last_seen_at"),
        *("last_notified_at", "reminders", "resolved_at", "lasted"),
    ]

    @admin.display(description="status")
    def status(self, alert):
        return "open" if alert.is_open else "resolved"

    @admin.display(description="duration")
    def lasted(self, alert):
        return duration_text(alert.duration)
