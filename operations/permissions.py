"""Who is an operator: active staff, or members of the `ops` group."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

OPS_GROUP = "ops"


def is_ops(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return bool(user.is_staff or user.groups.filter(name=OPS_GROUP).exists())


class IsOps(BasePermission):
    """DRF permission of every ops endpoint (authentication itself is checked before it: 401)."""

    message = "Operators only: staff, or members of the 'ops' group."

    def has_permission(self, request, view) -> bool:
        return is_ops(request.user)
