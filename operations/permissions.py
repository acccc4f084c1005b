"""The ops API's DRF permissions: reading needs audit.rights' READ, each action its own permission.

Staff is not operator: `is_staff` opens the admin and grants nothing here. The rules are
audit.rights', the same the dashboard and the admin pages ask.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from audit import rights


class IsOps(BasePermission):
    """Every ops endpoint: read access, the `ops` or `ops-admin` group's (authentication itself is
    checked before it: 401)."""

    message = "Operators only: the 'ops' group (read) or 'ops-admin' (read and act)."

    def has_permission(self, request, view) -> bool:
        return rights.may_read(request.user)


class MayAct(BasePermission):
    """The audit.rights permission of the action (a ViewSet's `acts`) the request's method routes to.

    Checked before any lookup, so a refused user learns nothing; OPTIONS lists only allowed methods.
    """

    def has_permission(self, request, view) -> bool:
        routed = (getattr(view, "action_map", None) or {}).get(request.method.lower())
        action = getattr(view, "acts", {}).get(routed)
        if action is None:
            return True
        if rights.may(request.user, action):
            return True
        self.message = (
            f"Not allowed: {action} needs the {rights.permission_for(action)} permission "
            f"(the '{rights.OPS_ADMIN_GROUP}' group holds it)."
        )
        return False
