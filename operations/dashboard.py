"""The Operations dashboard's views: the page, its self-refresh fragment, and the failed-job buttons.

Mounted by DashboardAdmin under /admin/operations/dashboard/ (admin login and staff check first);
then each view asks audit.rights like the ops API (403, nothing done). static/operations/dashboard.js
fetches `refresh/` every OPS_DASHBOARD_REFRESH seconds and posts the buttons with the CSRF token.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import rights
from audit.models import AuditEntry
from operations import actions, charts, snapshot


def require_read(request) -> None:
    if not rights.may_read(request.user):
        raise PermissionDenied("Operators only: the 'ops' group (read) or 'ops-admin' (read and act).")


def _refused(action: str) -> JsonResponse:
    return JsonResponse(
        {"detail": f"Not allowed: {action} needs the {rights.permission_for(action)} permission."}, status=403
    )


def panels_context() -> dict:
    data = snapshot.snapshot()
    queues = data["queues"]
    if "history" in queues:
        span = timedelta(seconds=settings.OPS_HISTORY_RETENTION)
        queues["charts"] = charts.queue_charts(queues["history"], timezone.now(), span)
    return {"ops": data, "history_hours": round(settings.OPS_HISTORY_RETENTION / 3600, 1)}


def render_panels(request) -> str:
    # Buttons only for what the user may do (the views refuse the rest anyway).
    may = {
        "retry": rights.may(request.user, "failed_job.retry"),
        "forget": rights.may(request.user, "failed_job.forget"),
    }
    return render_to_string("operations/panels.html", {**panels_context(), "may": may}, request=request)


def refresh(request) -> JsonResponse:
    """The panels' current HTML, for the page's polling script."""
    require_read(request)
    return JsonResponse({"html": render_panels(request), "at": timezone.now().isoformat()})


def _on_failed_job(request, pk: int, action: str, act) -> JsonResponse:
    """`act(job)` if the user may take `action` (403) and failed job `pk` is still there (404)."""
    from queueops.models import FailedJob

    if not rights.may(request.user, action):
        return _refused(action)
    job = FailedJob.objects.filter(pk=pk).first()
    gone = f"failed job #{pk} is gone (retried or forgotten meanwhile)"
    return act(job) if job is not None else JsonResponse({"detail": gone}, status=404)


@require_POST
def retry(request, pk: int) -> JsonResponse:
    def act(job):
        try:
            outcome = actions.retry_failed(request, job, channel=AuditEntry.DASHBOARD)
        except actions.ActionRefused as exc:
            return JsonResponse({"detail": str(exc)}, status=409)
        except actions.ActionFailed as exc:
            return JsonResponse({"detail": str(exc)}, status=503)
        if outcome is None:
            return JsonResponse({"detail": f"failed job #{pk} is being retried by someone else"}, status=409)
        return JsonResponse({"detail": f"failed job #{pk} sent again as {outcome['new_task_id']}", **outcome})

    return _on_failed_job(request, pk, "failed_job.retry", act)


@require_POST
def forget(request, pk: int) -> JsonResponse:
    def act(job):
        detail = actions.forget_failed(request, job, channel=AuditEntry.DASHBOARD)
        return JsonResponse({"detail": f"failed job #{pk} forgotten", **detail})

    return _on_failed_job(request, pk, "failed_job.forget", act)
