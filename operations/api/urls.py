"""The ops API's routes, mounted at /api/ops/."""

from django.urls import path, re_path

from operations.api import views

app_name = "ops-api"

urlpatterns = [
    path("overview/", views.OverviewView.as_view(), name="overview"),
    path("failed-jobs/", views.FailedJobListView.as_view(), name="failed-jobs"),
    path("failed-jobs/retry/", views.FailedJobBulkRetryView.as_view(), name="failed-jobs-retry"),
    path("failed-jobs/flush/", views.FailedJobFlushView.as_view(), name="failed-jobs-flush"),
    path("failed-jobs/<int:pk>/", views.FailedJobDetailView.as_view(), name="failed-job"),
    path("failed-jobs/<int:pk>/retry/", views.FailedJobRetryView.as_view(), name="failed-job-retry"),
    path("queues/", views.QueueListView.as_view(), name="queues"),
    path("workers/", views.WorkerListView.as_view(), name="workers"),
    path("alerts/", views.AlertListView.as_view(), name="alerts"),
    path("alerts/<int:pk>/", views.AlertDetailView.as_view(), name="alert"),
    path("alerts/<int:pk>/resolve/", views.AlertResolveView.as_view(), name="alert-resolve"),
    path("schedules/", views.ScheduleListView.as_view(), name="schedules"),
    path("schedules/<str:name>/", views.ScheduleDetailView.as_view(), name="schedule"),
    path("schedules/<str:name>/run/", views.ScheduleRunView.as_view(), name="schedule-run"),
    path("schedules/<str:name>/pause/", views.SchedulePauseView.as_view(), name="schedule-pause"),
    path("schedules/<str:name>/resume/", views.ScheduleResumeView.as_view(), name="schedule-resume"),
    path("backups/", views.BackupListView.as_view(), name="backups"),
    path("backups/drills/", views.DrillListView.as_view(), name="drills"),
    path("mail/events/", views.MailEventListView.as_view(), name="mail-events"),
    path("mail/suppressions/", views.SuppressionListView.as_view(), name="suppressions"),
    path("mail/suppressions/<int:pk>/", views.SuppressionDetailView.as_view(), name="suppression"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    # Anything else under /api/ops/ (`failed-jobs/-1/`, a typo): a JSON 404 after the usual
    # authentication, not Django's HTML page.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
