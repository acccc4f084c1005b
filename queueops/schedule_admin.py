"""Admin pages for the scheduler: the jobs declared in code and the run log, read-only."""

from django.contrib import admin

from queueops.schedule_models import JobRun, ManagedJob


@admin.register(ManagedJob)
class ManagedJobAdmin(admin.ModelAdmin):
    list_display = ("name", "task", "schedule", "critical", "in_code", "removed_at", "synced_at")
    list_filter = ("critical", "in_code")
    search_fields = ("name", "task")
    # The code is the source of truth: schedule_sync writes these rows, the admin only shows them.
    readonly_fields = [f.name for f in ManagedJob._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job", "started_at", "outcome", "duration_ms", "worker", "slot")
    list_filter = ("outcome", "job")
    search_fields = ("job", "task_id", "error")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
