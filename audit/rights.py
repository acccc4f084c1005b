"""Who may do what: the one map from each operator action to the permission it needs.

The API (operations.permissions), the dashboard (operations.dashboard) and the admin pages of
each app ask `may(user, action)`; none of them names a permission itself. The permissions are
Django model permissions (Meta.permissions where no default one fits); the `ops` group gets
READ, the `ops-admin` group READ and every action (migration operations 0004 keeps them so).
Superusers hold every permission. Being staff grants nothing here: it only opens the admin.
"""

from __future__ import annotations

READ = "audit.view_operations"

ACTIONS = {
    "failed_job.retry": "queueops.retry_failedjob",
    "failed_job.retry_many": "queueops.retry_failedjob",
    "failed_job.forget": "queueops.delete_failedjob",
    "failed_job.flush": "queueops.flush_failedjob",
    "queue.clear": "queueops.clear_queue",
    "queue.restart": "queueops.restart_workers",
    "alert.resolve": "alerts.resolve_alert",
    "schedule.run": "scheduler.run_managedjob",
    "schedule.pause": "scheduler.pause_managedjob",
    "schedule.resume": "scheduler.pause_managedjob",
    "backup.start": "backups.start_backup",
    "backup.drill": "backups.start_drill",
    "suppression.add": "mailops.manage_suppression",
    "suppression.remove": "mailops.manage_suppression",
}

OPS_GROUP = "ops"
OPS_ADMIN_GROUP = "ops-admin"
GROUPS = {OPS_GROUP: (READ,), OPS_ADMIN_GROUP: (READ, *sorted(set(ACTIONS.values())))}


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def may_read(user) -> bool:
    return _active(user) and user.has_perm(READ)


def may(user, action: str) -> bool:
    """Whether `user` may take `action` (a key of ACTIONS; an unknown action is refused)."""
    permission = ACTIONS.get(action)
    return bool(permission) and _active(user) and user.has_perm(permission)


def permission_for(action: str) -> str:
    return ACTIONS[action]
