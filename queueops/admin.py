"""Admin for failed jobs: filters, search, payload and traceback, retry and forget.

Retry and forget need their audit.rights permissions (forgetting more than one is a flush) and
each writes an audit entry (door "admin").
Messages and tracebacks are shown masked (health.redact), also for rows stored before masking.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from audit import admin_support
from audit.models import AuditEntry
from health.redact import mask
from queueops.failed import retry_audited
from queueops.models import FailedJob


@admin.register(FailedJob)
class FailedJobAdmin(admin_support.ReadOnlyAdmin):
    # A record of what happened, not edited: retry or forget it instead (the `forget` action
    # deletes, with its own permission and audit entry).
    list_display = ["id", "failed_at", "queue", "task", "attempts", "exception_name", "short_message"]
    list_filter = ["queue", "task", "exception", "failed_at"]
    # Not message or traceback: the page masks them (rows stored before masking, secrets configured
    # since), and a search over the stored text would answer whether a guessed secret is in it.
    search_fields = ["task_id", "task", "exception"]
    date_hierarchy = "failed_at"
    actions = ["retry", "forget"]
    fields = readonly_fields = [
        *("task", "task_id", "queue", "exchange", "routing_key", "priority", "connection", "worker"),
        *("attempts", "failed_at", "exception", "message_text", "payload", "traceback_text"),
    ]

    def has_retry_permission(self, request):
        return admin_support.may(request, "failed_job.retry")

    def has_forget_permission(self, request):
        return admin_support.may(request, "failed_job.forget")

    @admin.display(description="exception", ordering="exception")
    def exception_name(self, job):
        return job.exception.rpartition(".")[2]

    @admin.display(description="message")
    def short_message(self, job):
        text = " ".join(job.shown_message.split())
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="payload (args, kwargs)")
    def payload(self, job):
        return format_html("<pre>{}</pre>", json.dumps({"args": job.args, "kwargs": job.kwargs}, indent=2))

    @admin.display(description="traceback")
    def traceback_text(self, job):
        return format_html("<pre>{}</pre>", job.shown_traceback)

    @admin.display(description="message")
    def message_text(self, job):
        return job.shown_message

    @admin.action(description="Retry the selected failed jobs", permissions=["retry"])
    def retry(self, request, queryset):
        done, failed, _ = retry_audited(request, queryset, AuditEntry.ADMIN)
        if done:
            self.message_user(request, f"Sent {len(done)} failed job(s) again.", messages.SUCCESS)
        for job, exc in failed:
            problem = f"Could not retry #{job.pk} ({job.task}): {type(exc).__name__}: {mask(str(exc))}"
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Forget the selected failed jobs", permissions=["forget"])
    def forget(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        # Forgetting many at once is a flush, as in the ops API: it needs that permission.
        action = "failed_job.forget" if len(ids) == 1 else "failed_job.flush"
        if not admin_support.may(request, action):
            refused = f"Nothing forgotten: forgetting {len(ids)} failed jobs at once is a flush ({action})."
            self.message_user(request, refused, messages.ERROR)
            return
        with transaction.atomic():
            deleted = FailedJob.objects.filter(pk__in=ids).delete()[0]
            admin_support.record(
                request, action, f"{deleted} failed job(s)", {"ids": ids, "deleted": deleted}
            )
        self.message_user(request, f"Forgot {deleted} failed job(s).", messages.SUCCESS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # `forget` says what it means
        return actions
