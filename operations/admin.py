"""The Operations dashboard's admin entry (staff with read access; the audit log is audit/admin.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from audit import rights
from operations import dashboard
from operations.models import Dashboard


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The dashboard page in place of a change list; every URL goes through admin_view (staff),
    then asks audit.rights (read; each button its own action)."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and rights.may_read(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def _never(self, request, obj=None) -> bool:
        return False

    has_add_permission = has_change_permission = has_delete_permission = _never  # no rows to edit

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name="operations_dashboard_changelist"),
            path("refresh/", wrap(dashboard.refresh), name="operations_dashboard_refresh"),
            path("failed/<int:pk>/retry/", wrap(dashboard.retry), name="operations_dashboard_retry"),
            path("failed/<int:pk>/forget/", wrap(dashboard.forget), name="operations_dashboard_forget"),
        ]

    def changelist_view(self, request, extra_context=None):
        dashboard.require_read(request)
        context = {
            **self.admin_site.each_context(request),
            "title": "Operations",
            "opts": self.model._meta,
            "panels_html": dashboard.render_panels(request),
            "refresh_seconds": settings.OPS_DASHBOARD_REFRESH,
        }
        return TemplateResponse(request, "operations/dashboard.html", context)
