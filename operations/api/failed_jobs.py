"""The failed jobs of the ops API (/api/ops/failed-jobs/): list, read, forget, retry one, and
retry or flush many by ids and filters."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit.models import AuditEntry
from operations import actions
from operations.api import serializers as s
from operations.api.base import (
    BUSY_OR_NOT_REPLAYABLE,
    UNAVAILABLE,
    OpsViewSet,
    body,
    listing,
    responses,
    unavailable,
)
from operations.api.filters import FailedJobFilter
from operations.api.pagination import NewestFirst
from queueops.failed import retry_audited
from queueops.models import FailedJob


def matching(filters: dict):
    """The failed jobs a bulk action's validated body names: its filters, then its ids."""
    filterset = FailedJobFilter(
        data={name: filters[name] for name in FailedJobFilter.base_filters if name in filters},
        queryset=FailedJob.objects.order_by("-failed_at", "-id"),
    )
    # The body passed the same rules; were a filter dropped here, a flush would forget too much.
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    jobs = filterset.qs
    if "ids" in filters:
        jobs = jobs.filter(pk__in=filters["ids"])
    return jobs


def _filters_json(filters: dict) -> dict:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in filters.items()
    }


@extend_schema(tags=["failed jobs"])
@listing(s.FailedJobSerializer, summary="Failed jobs, newest first, by queue, task, exception text or time")
class FailedJobViewSet(OpsViewSet):
    ordering = ("-failed_at", "-id")  # the cursor pages' order (NewestFirst): its index's order
    queryset = FailedJob.objects.order_by(*ordering)
    serializer_class = s.FailedJobSerializer
    filterset_class = FailedJobFilter
    pagination_class = NewestFirst
    lookup_value_converter = "int"
    acts = {
        "destroy": "failed_job.forget",
        "retry": "failed_job.retry",
        "retry_many": "failed_job.retry_many",
        "flush": "failed_job.flush",
    }

    @extend_schema(responses=responses(s.FailedJobDetailSerializer))
    def retrieve(self, request, pk: int):
        return Response(s.FailedJobDetailSerializer(self.get_object()).data)

    @extend_schema(responses=responses(s.FailedJobDetailSerializer), summary="Forget a failed job")
    def destroy(self, request, pk: int):
        job = self.get_object()
        data = s.FailedJobDetailSerializer(job).data
        actions.forget_failed(request, job)
        return Response(data)

    @extend_schema(
        request=None,
        responses=responses(s.RetriedSerializer, BUSY_OR_NOT_REPLAYABLE, UNAVAILABLE),
        summary="Send a failed job again (new task id, same arguments and queue)",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk: int):
        job = self.get_object()
        try:
            outcome = actions.retry_failed(request, job)
        except actions.ActionRefused as exc:
            return Response({"detail": str(exc)}, status=409)
        except actions.ActionFailed as exc:
            return unavailable(exc)
        if outcome is None:
            return Response({"detail": f"failed job #{pk} is being retried by someone else"}, status=409)
        return Response(outcome)

    @extend_schema(
        operation_id="api_ops_failed_jobs_retry_many",
        request=s.FailedJobBulkSerializer,
        responses=responses(s.BulkRetryResultSerializer, UNAVAILABLE),
        summary="Retry every failed job matching ids and filters (or all)",
    )
    @action(detail=False, methods=["post"], url_path="retry")
    def retry_many(self, request):
        filters = body(s.FailedJobBulkSerializer, request)
        outcome = retry_audited(request, matching(filters), AuditEntry.API)[2]
        if not outcome["retried"] and any(item["error"] != "NotReplayable" for item in outcome["failed"]):
            # Nothing was sent (the broker down): the caller should come back, as for one job;
            # not for jobs that can never be sent (their arguments were not stored).
            return unavailable(f"no failed job was retried: {outcome['failed'][0]['error']}")
        return Response(outcome)

    @extend_schema(
        request=s.FailedJobBulkSerializer,
        responses=responses(s.FlushResultSerializer),
        summary="Forget every failed job matching ids and filters (or all)",
    )
    @action(detail=False, methods=["post"])
    def flush(self, request):
        filters = body(s.FailedJobBulkSerializer, request)
        return Response(actions.flush_failed(request, matching(filters), _filters_json(filters)))
