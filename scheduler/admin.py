"""Admin pages for the scheduler: the jobs declared in code and the run log (read-only), and
django-celery-beat's periodic tasks with their pause/resume/run actions under audit.rights.

django-celery-beat's own actions need only the change permission and leave no trace; here
enable/disable need `schedule.resume`/`schedule.pause`, run needs `schedule.run` (audit.rights),
and each writes an audit entry per task (door "admin"). Its toggle action is left out: enable
and disable say what they do, and the audit entry can name it. Its schedules (crontab,
interval, solar, clocked) are audited too: editing one reschedules every task using it, and
deleting one deletes those tasks with it.
"""

from django.contrib import admin, messages
from django_celery_beat.admin import (
    ClockedScheduleAdmin,
    CrontabScheduleAdmin,
    IntervalScheduleAdmin,
    PeriodicTaskAdmin,
    SolarScheduleAdmin,
)
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from audit import admin_support
from audit.models import AuditEntry
from scheduler.models import JobRun, ManagedJob


@admin.register(ManagedJob)
class ManagedJobAdmin(admin_support.OperatorsMayRead, admin.ModelAdmin):
    list_display = ("name", "task", "schedule", "critical", "in_code", "removed_at", "synced_at")
    list_filter = ("critical", "in_code")
    search_fields = ("name", "task")
    # The code is the source of truth: schedule_sync writes these rows, the admin only shows them.
    readonly_fields = [f.name for f in ManagedJob._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(JobRun)
class JobRunAdmin(admin_support.OperatorsMayRead, admin.ModelAdmin):
    list_display = ("job", "started_at", "outcome", "duration_ms", "worker", "slot")
    list_filter = ("outcome", "job")
    search_fields = ("job", "task_id", "error")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditedPeriodicTaskAdmin(
    admin_support.OperatorsMayRead, admin_support.AuditedDeletes, PeriodicTaskAdmin
):
    actions = ("enable_tasks", "disable_tasks", "run_tasks")
    delete_action = "schedule.delete"

    def has_resume_permission(self, request):
        return admin_support.may(request, "schedule.resume")

    def has_pause_permission(self, request):
        return admin_support.may(request, "schedule.pause")

    def has_run_permission(self, request):
        return admin_support.may(request, "schedule.run")

    def _audited(self, request, queryset, action: str, run) -> None:
        states = dict(queryset.values_list("name", "enabled"))
        run(request, queryset)
        for name, was_enabled in states.items():
            admin_support.record(request, action, name, {"was_enabled": was_enabled})

    @admin.action(description="Enable (resume) selected tasks", permissions=["resume"])
    def enable_tasks(self, request, queryset):
        self._audited(request, queryset, "schedule.resume", super().enable_tasks)

    @admin.action(description="Disable (pause) selected tasks", permissions=["pause"])
    def disable_tasks(self, request, queryset):
        self._audited(request, queryset, "schedule.pause", super().disable_tasks)

    @admin.action(description="Run selected tasks now", permissions=["run"])
    def run_tasks(self, request, queryset):
        # django-celery-beat sends nothing when one task is not registered here (it says so in a
        # message) and lets a broker error through: the entries say the run failed, not ok.
        tasks = dict(queryset.values_list("name", "task"))
        self.celery_app.loader.import_default_modules()
        unknown = sorted(name for name, task in tasks.items() if self.celery_app.tasks.get(task) is None)
        detail, outcome = {}, AuditEntry.OK
        try:
            super().run_tasks(request, queryset)
        except Exception as exc:  # kombu's OperationalError, a socket error: the broker said no
            detail, outcome = (
                {"error": f"the broker did not accept the task ({type(exc).__name__})"},
                AuditEntry.FAILED,
            )
            self.message_user(request, f"Not run: {detail['error']}.", messages.ERROR)
        if unknown:
            detail, outcome = {"error": f"task not registered: {', '.join(unknown)}"}, AuditEntry.FAILED
        for name in tasks:
            admin_support.record(
                request, "schedule.run", name, {"task": tasks[name], **detail}, outcome=outcome
            )

    def get_readonly_fields(self, request, obj=None):
        # Editing `enabled` in the form is a pause or resume, and so is a start in the future, an
        # expiry in the past or "one-off" (django-celery-beat stops sending then): they need it too.
        readonly = list(super().get_readonly_fields(request, obj))
        if not admin_support.may(request, "schedule.pause"):
            readonly += ["enabled", "one_off", "expires", "expire_seconds", "start_time"]
        return readonly

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        detail = {"changed": sorted(form.changed_data), "enabled": obj.enabled}
        admin_support.record(request, "schedule.change" if change else "schedule.add", obj.name, detail)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, AuditedPeriodicTaskAdmin)


class AuditedTimingAdmin(admin_support.AuditedDeletes):
    """A schedule's add, change and delete, audited with the periodic tasks it times (a delete
    cascades to them: they are named in its entry)."""

    timing = ""  # PeriodicTask's foreign key to this kind of schedule

    def described(self, obj) -> tuple[str, dict]:
        tasks = PeriodicTask.objects.filter(**{self.timing: obj}).values_list("name", flat=True)
        return str(obj), {"kind": self.timing, "id": obj.pk, "tasks": sorted(tasks)}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        target, detail = self.described(obj)
        action = f"schedule.{self.timing}_{'change' if change else 'add'}"
        admin_support.record(request, action, target, {**detail, "changed": sorted(form.changed_data)})


for model, base, timing in (
    (CrontabSchedule, CrontabScheduleAdmin, "crontab"),
    (IntervalSchedule, IntervalScheduleAdmin, "interval"),
    (SolarSchedule, SolarScheduleAdmin, "solar"),
    (ClockedSchedule, ClockedScheduleAdmin, "clocked"),
):
    admin.site.unregister(model)
    audited = {"timing": timing, "delete_action": f"schedule.{timing}_delete"}
    admin.site.register(model, type(f"Audited{base.__name__}", (AuditedTimingAdmin, base), audited))
