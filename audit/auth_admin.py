"""The admin's user and group pages, with every change to who holds which right audited.

Adding someone to `ops-admin`, making them staff or superuser, or changing a group's
permissions decides who may act (audit.rights): each such change writes an audit entry (door
"admin") with the values before and after, beside Django's own LogEntry, which keeps no address.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from audit import admin_support

_USER_RIGHTS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


def _shown(value):
    if hasattr(value, "__iter__") and not isinstance(value, str):
        return sorted(str(item) for item in value)
    return value


class AuditedUserAdmin(UserAdmin):
    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changed = [name for name in _USER_RIGHTS if name in form.changed_data]
        if changed:
            detail = {
                name: {"before": _shown(form.initial.get(name)), "after": _shown(form.cleaned_data[name])}
                for name in changed
            }
            admin_support.record(request, "user.rights_change", form.instance.get_username(), detail)


class AuditedGroupAdmin(admin_support.AuditedDeletes, GroupAdmin):
    delete_action = "group.delete"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "permissions" in form.changed_data or not change:
            detail = {
                "before": _shown(form.initial.get("permissions", [])),
                "after": _shown(form.cleaned_data["permissions"]),
            }
            admin_support.record(request, "group.permissions_change", form.instance.name, detail)


User = get_user_model()
for model, model_admin in ((User, AuditedUserAdmin), (Group, AuditedGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
