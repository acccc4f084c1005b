"""The ops API's routes, mounted at /api/ops/: one router, one ViewSet per resource."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from operations.api import failed_jobs, records, runtime
from operations.api.base import NotFoundView

app_name = "ops-api"

router = SimpleRouter(use_regex_path=False)  # Django's path converters: <int:pk>, <str:name>
router.register("overview", runtime.OverviewViewSet, basename="overview")
router.register("failed-jobs", failed_jobs.FailedJobViewSet, basename="failed-job")
router.register("queues", runtime.QueueViewSet, basename="queue")
router.register("workers", runtime.WorkerViewSet, basename="worker")
router.register("alerts", runtime.AlertViewSet, basename="alert")
router.register("schedules", runtime.ScheduleViewSet, basename="schedule")
# Before `backups`, whose routes have no detail to shadow it, for a reader's sake.
router.register("backups/drills", records.DrillViewSet, basename="drill")
router.register("backups", records.BackupViewSet, basename="backup")
router.register("mail/events", records.MailEventViewSet, basename="mail-event")
router.register("mail/suppressions", records.SuppressionViewSet, basename="suppression")
router.register("audit", records.AuditViewSet, basename="audit")

urlpatterns = [
    *router.urls,
    # Anything else under /api/ops/ (`failed-jobs/-1/`, a typo): a JSON 404 after the usual
    # authentication, not Django's HTML page.
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
