"""The ops API views (/api/ops/): read the system, and act on it through operations.actions.

Every view needs an authenticated operator (token or session; 401 without credentials, 403
without the read permission, the `ops` group's); every POST and DELETE also needs its action's
permission (audit.rights, the `ops-admin` group's; 403 before anything is looked up) and writes
an audit entry. Bad input is a 400 naming the field; a missing object a 404; a broker that refuses a
message a 503 with nothing changed.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from audit.models import AuditEntry
from operations import actions, snapshot
from operations.api import serializers as s
from operations.permissions import IsOps, MayAct
from opsproject.throttling import AnonThrottle, UserThrottle

ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: field -> messages."),
    401: OpenApiResponse(s.ErrorSerializer, description="No or bad credentials."),
    403: OpenApiResponse(
        s.ErrorSerializer, description="Not an operator (`ops` group), or lacks the action's permission."
    ),
    404: OpenApiResponse(s.ErrorSerializer, description="No such object, or no such page."),
}
UNAVAILABLE = {503: OpenApiResponse(s.ErrorSerializer, description="The broker refused; nothing changed.")}
BUSY = {409: OpenApiResponse(s.ErrorSerializer, description="Another operator is acting on it right now.")}


def responses(ok, *extra: dict, code: int = 200) -> dict:
    merged = {code: ok, **ERRORS}
    for more in extra:
        merged.update(more)
    return merged


def query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def unavailable(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)


class OpsView(GenericAPIView):
    permission_classes = [IsOps, MayAct]
    acts: dict[str, str] = {}  # HTTP method -> the audit.rights action it takes
    # Rates: API_THROTTLE_ANON / API_THROTTLE_USER; 429 with Retry-After past them.
    throttle_classes = [AnonThrottle, UserThrottle]

    def paginated(self, items, serializer_class) -> Response:
        page = self.paginate_queryset(items)
        return self.get_paginated_response(serializer_class(page, many=True).data)


class NotFoundView(OpsView):
    """The JSON 404 of every path under /api/ops/ that names no endpoint."""

    schema = None  # not an operation of the API

    def _missing(self, request, *args, **kwargs):
        raise NotFound(f"No ops API endpoint at {request.path}.")

    get = post = put = patch = delete = _missing


# --- overview -------------------------------------------------------------------------------


class OverviewView(OpsView):
    """Every dashboard panel as JSON: health, queues, failed jobs, alerts, scheduler, mail, backups."""

    @extend_schema(responses=responses(OpenApiTypes.OBJECT), tags=["overview"])
    def get(self, request):
        return Response(snapshot.snapshot())


# --- failed jobs ----------------------------------------------------------------------------


def failed_jobs(filters: dict):
    from queueops.models import FailedJob

    jobs = FailedJob.objects.order_by("-failed_at", "-id")
    if "queue" in filters:
        jobs = jobs.filter(queue=filters["queue"])
    if "task" in filters:
        jobs = jobs.filter(task=filters["task"])
    if "exception" in filters:
        jobs = jobs.filter(exception__icontains=filters["exception"])
    if "failed_after" in filters:
        jobs = jobs.filter(failed_at__gte=filters["failed_after"])
    if "failed_before" in filters:
        jobs = jobs.filter(failed_at__lt=filters["failed_before"])
    if "ids" in filters:
        jobs = jobs.filter(pk__in=filters["ids"])
    return jobs


def _filters_json(filters: dict) -> dict:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in filters.items()
    }


class FailedJobListView(OpsView):
    @extend_schema(
        parameters=[s.FailedJobListQuery],
        responses=responses(s.FailedJobSerializer(many=True)),
        tags=["failed jobs"],
        summary="Failed jobs, newest first, filtered by queue, task, exception text or time",
    )
    def get(self, request):
        return self.paginated(failed_jobs(query(s.FailedJobListQuery, request)), s.FailedJobSerializer)


class FailedJobObject:
    def get_object(self):
        from queueops.models import FailedJob

        return get_object_or_404(FailedJob, pk=self.kwargs["pk"])


class FailedJobDetailView(FailedJobObject, OpsView):
    acts = {"DELETE": "failed_job.forget"}

    @extend_schema(responses=responses(s.FailedJobDetailSerializer), tags=["failed jobs"])
    def get(self, request, pk: int):
        return Response(s.FailedJobDetailSerializer(self.get_object()).data)

    @extend_schema(
        responses=responses(s.FailedJobDetailSerializer), tags=["failed jobs"], summary="Forget a failed job"
    )
    def delete(self, request, pk: int):
        job = self.get_object()
        data = s.FailedJobDetailSerializer(job).data
        actions.forget_failed(request, job)
        return Response(data)


class FailedJobRetryView(FailedJobObject, OpsView):
    acts = {"POST": "failed_job.retry"}

    @extend_schema(
        request=None,
        responses=responses(s.RetriedSerializer, BUSY, UNAVAILABLE),
        tags=["failed jobs"],
        summary="Send a failed job again (new task id, same arguments and queue)",
    )
    def post(self, request, pk: int):
        job = self.get_object()
        try:
            outcome = actions.retry_failed(request, job)
        except actions.ActionFailed as exc:
            return unavailable(exc)
        if outcome is None:
            return Response({"detail": f"failed job #{pk} is being retried by someone else"}, status=409)
        return Response(outcome)


class FailedJobBulkRetryView(OpsView):
    acts = {"POST": "failed_job.retry_many"}

    @extend_schema(
        operation_id="api_ops_failed_jobs_retry_many",
        request=s.FailedJobBulkSerializer,
        responses=responses(s.BulkRetryResultSerializer),
        tags=["failed jobs"],
        summary="Retry every failed job matching ids and filters (or all)",
    )
    def post(self, request):
        filters = body(s.FailedJobBulkSerializer, request)
        return Response(actions.retry_failed_many(request, failed_jobs(filters)))


class FailedJobFlushView(OpsView):
    acts = {"POST": "failed_job.flush"}

    @extend_schema(
        request=s.FailedJobBulkSerializer,
        responses=responses(s.FlushResultSerializer),
        tags=["failed jobs"],
        summary="Forget every failed job matching ids and filters (or all)",
    )
    def post(self, request):
        filters = body(s.FailedJobBulkSerializer, request)
        return Response(actions.flush_failed(request, failed_jobs(filters), _filters_json(filters)))


# --- queues and workers ---------------------------------------------------------------------


class QueueListView(OpsView):
    pagination_class = None  # a short list, always whole

    @extend_schema(responses=responses(s.QueueSerializer(many=True), UNAVAILABLE), tags=["queues"])
    def get(self, request):
        from queueops.broker import BrokerUnavailable

        try:
            return Response(snapshot.queues(with_history=False)["queues"])
        except BrokerUnavailable as exc:
            return unavailable(exc)


class WorkerListView(OpsView):
    pagination_class = None  # a short list, always whole

    @extend_schema(responses=responses(s.WorkerSerializer(many=True)), tags=["queues"])
    def get(self, request):
        from queueops.heartbeat import workers

        return Response([beat.as_dict() for beat in workers(include_lost=True)])


# --- alerts ---------------------------------------------------------------------------------


class AlertListView(OpsView):
    @extend_schema(
        parameters=[s.AlertQuery], responses=responses(s.AlertSerializer(many=True)), tags=["alerts"]
    )
    def get(self, request):
        from alerts.models import Alert

        state = query(s.AlertQuery, request).get("state")
        alerts = Alert.objects.order_by("-opened_at", "-id")
        if state == "open":
            alerts = alerts.filter(resolved_at__isnull=True)
        elif state == "resolved":
            alerts = alerts.filter(resolved_at__isnull=False)
        return self.paginated(alerts, s.AlertSerializer)


class AlertObject:
    def get_object(self):
        from alerts.models import Alert

        return get_object_or_404(Alert, pk=self.kwargs["pk"])


class AlertDetailView(AlertObject, OpsView):
    @extend_schema(responses=responses(s.AlertSerializer), tags=["alerts"])
    def get(self, request, pk: int):
        return Response(s.AlertSerializer(self.get_object()).data)


class AlertResolveView(AlertObject, OpsView):
    acts = {"POST": "alert.resolve"}

    @extend_schema(
        request=None,
        responses=responses(s.AlertResolvedSerializer),
        tags=["alerts"],
        summary="Resolve an open alert by hand (sends the recovery notice)",
    )
    def post(self, request, pk: int):
        return Response(actions.resolve_alert(request, self.get_object()))


# --- schedules ------------------------------------------------------------------------------


def _status_of(name: str) -> dict:
    from scheduler.runlog import job_statuses

    for status_ in job_statuses():
        if status_.name == name:
            return status_.as_dict()
    raise Http404(f"No periodic job {name!r}.")


class ScheduleListView(OpsView):
    pagination_class = None  # a short list, always whole

    @extend_schema(responses=responses(s.ScheduleSerializer(many=True)), tags=["schedules"])
    def get(self, request):
        from scheduler.runlog import job_statuses

        return Response([status_.as_dict() for status_ in job_statuses()])


class ScheduleObject:
    def periodic(self):
        from django_celery_beat.models import PeriodicTask

        from scheduler.models import ManagedJob

        name = self.kwargs["name"]
        if not ManagedJob.objects.filter(name=name).exists():
            raise Http404(f"No periodic job {name!r}.")
        return get_object_or_404(PeriodicTask, name=name)


class ScheduleDetailView(OpsView):
    @extend_schema(responses=responses(s.ScheduleSerializer), tags=["schedules"])
    def get(self, request, name: str):
        return Response(_status_of(name))


class ScheduleRunView(ScheduleObject, OpsView):
    acts = {"POST": "schedule.run"}

    @extend_schema(
        request=None,
        responses=responses(s.ScheduleRunSerializer, UNAVAILABLE),
        tags=["schedules"],
        summary="Send the job's task now (recorded in the run log like a scheduled run)",
    )
    def post(self, request, name: str):
        try:
            return Response(actions.run_schedule(request, self.periodic()))
        except actions.ActionFailed as exc:
            return unavailable(exc)


class SchedulePauseView(ScheduleObject, OpsView):
    acts = {"POST": "schedule.pause"}
    enabled = False

    @extend_schema(request=None, responses=responses(s.ScheduleStateSerializer), tags=["schedules"])
    def post(self, request, name: str):
        return Response(actions.set_schedule_enabled(request, self.periodic(), self.enabled))


class ScheduleResumeView(SchedulePauseView):
    acts = {"POST": "schedule.resume"}
    enabled = True


# --- backups --------------------------------------------------------------------------------


class BackupListView(OpsView):
    acts = {"POST": "backup.start"}

    @extend_schema(
        parameters=[s.PageQuery], responses=responses(s.BackupSerializer(many=True)), tags=["backups"]
    )
    def get(self, request):
        from backups.models import BackupRecord

        query(s.PageQuery, request)
        return self.paginated(BackupRecord.objects.order_by("-started_at", "-id"), s.BackupSerializer)

    @extend_schema(
        request=s.BackupStartSerializer,
        responses=responses(s.StartedSerializer, UNAVAILABLE, code=202),
        tags=["backups"],
        summary="Start a backup now (the task runs on a worker)",
    )
    def post(self, request):
        data = body(s.BackupStartSerializer, request)
        try:
            started = actions.start_backup(request, data["alias"], data["note"])
        except actions.ActionFailed as exc:
            return unavailable(exc)
        return Response(started, status=status.HTTP_202_ACCEPTED)


class DrillListView(OpsView):
    acts = {"POST": "backup.drill"}

    @extend_schema(
        parameters=[s.PageQuery], responses=responses(s.DrillSerializer(many=True)), tags=["backups"]
    )
    def get(self, request):
        from backups.models import BackupDrill

        query(s.PageQuery, request)
        return self.paginated(BackupDrill.objects.order_by("-finished_at", "-id"), s.DrillSerializer)

    @extend_schema(
        request=s.DrillStartSerializer,
        responses=responses(s.StartedSerializer, UNAVAILABLE, code=202),
        tags=["backups"],
        summary="Start a restore drill of a backup (the task runs on a worker)",
    )
    def post(self, request):
        data = body(s.DrillStartSerializer, request)
        try:
            started = actions.start_drill(request, data["reference"], data["alias"])
        except actions.ActionFailed as exc:
            return unavailable(exc)
        return Response(started, status=status.HTTP_202_ACCEPTED)


# --- mail -----------------------------------------------------------------------------------


class MailEventListView(OpsView):
    @extend_schema(
        parameters=[s.MailEventQuery], responses=responses(s.MailEventSerializer(many=True)), tags=["mail"]
    )
    def get(self, request):
        from mailops.models import MailEvent, address_key

        filters = query(s.MailEventQuery, request)
        events = MailEvent.objects.order_by("-occurred_at", "-id")
        if "type" in filters:
            events = events.filter(event_type=filters["type"])
        if "recipient" in filters:
            events = events.filter(recipient_key=address_key(filters["recipient"]))
        return self.paginated(events, s.MailEventSerializer)


class SuppressionListView(OpsView):
    acts = {"POST": "suppression.add"}

    @extend_schema(
        parameters=[s.SuppressionQuery],
        responses=responses(s.SuppressionSerializer(many=True)),
        tags=["mail"],
    )
    def get(self, request):
        from mailops.models import Suppression, address_key

        filters = query(s.SuppressionQuery, request)
        rows = Suppression.objects.order_by("-created_at", "-id")
        if "address" in filters:
            rows = rows.filter(address_key=address_key(filters["address"]))
        return self.paginated(rows, s.SuppressionSerializer)

    @extend_schema(
        request=s.SuppressionAddSerializer,
        responses={
            **responses(s.SuppressionSerializer, code=201),
            200: OpenApiResponse(s.SuppressionSerializer, description="Already on the list."),
        },
        tags=["mail"],
        summary="Put an address on the suppression list (no mail is sent to it)",
    )
    def post(self, request):
        data = body(s.SuppressionAddSerializer, request)
        row, created = actions.add_suppression(request, data["address"], data["detail"])
        return Response(s.SuppressionSerializer(row).data, status=201 if created else 200)


class SuppressionDetailView(OpsView):
    acts = {"DELETE": "suppression.remove"}

    def get_object(self):
        from mailops.models import Suppression

        return get_object_or_404(Suppression, pk=self.kwargs["pk"])

    @extend_schema(responses=responses(s.SuppressionSerializer), tags=["mail"])
    def get(self, request, pk: int):
        return Response(s.SuppressionSerializer(self.get_object()).data)

    @extend_schema(responses=responses(s.SuppressionSerializer), tags=["mail"], summary="Take an address off")
    def delete(self, request, pk: int):
        row = self.get_object()
        data = s.SuppressionSerializer(row).data
        actions.remove_suppression(request, row)
        return Response(data)


# --- audit ----------------------------------------------------------------------------------


class AuditListView(OpsView):
    @extend_schema(
        parameters=[s.AuditQuery], responses=responses(s.AuditEntrySerializer(many=True)), tags=["audit"]
    )
    def get(self, request):
        filters = query(s.AuditQuery, request)
        entries = AuditEntry.objects.order_by("-at", "-id")
        if "action" in filters:
            entries = entries.filter(action=filters["action"])
        if "username" in filters:
            entries = entries.filter(username=filters["username"])
        return self.paginated(entries, s.AuditEntrySerializer)
