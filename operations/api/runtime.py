"""The ops API's view of the running system: overview, queues, workers, alerts, schedules."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django_celery_beat.models import PeriodicTask
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from alerts.models import Alert
from operations import actions, snapshot
from operations.api import serializers as s
from operations.api.base import UNAVAILABLE, OpsViewSet, listing, responses, unavailable
from operations.api.filters import AlertFilter
from operations.api.pagination import NewestFirst
from scheduler.models import ManagedJob


@extend_schema(tags=["overview"])
class OverviewViewSet(OpsViewSet):
    """Every dashboard panel as JSON: health, queues, failed jobs, alerts, scheduler, mail, backups."""

    pagination_class = None

    @extend_schema(responses=responses(OpenApiTypes.OBJECT))
    def list(self, request):
        return Response(snapshot.snapshot())


@extend_schema(tags=["queues"])
class QueueViewSet(OpsViewSet):
    pagination_class = None  # a short list, always whole

    @extend_schema(responses=responses(s.QueueSerializer(many=True), UNAVAILABLE))
    def list(self, request):
        from queueops.broker import BrokerUnavailable

        try:
            return Response(snapshot.queues(with_history=False)["queues"])
        except BrokerUnavailable as exc:
            return unavailable(exc)


@extend_schema(tags=["queues"])
class WorkerViewSet(OpsViewSet):
    pagination_class = None  # a short list, always whole

    @extend_schema(responses=responses(s.WorkerSerializer(many=True)))
    def list(self, request):
        from queueops.heartbeat import workers

        return Response([beat.as_dict() for beat in workers(include_lost=True)])


@extend_schema(tags=["alerts"])
@listing(s.AlertSerializer)
@extend_schema_view(retrieve=extend_schema(responses=responses(s.AlertSerializer)))
class AlertViewSet(mixins.RetrieveModelMixin, OpsViewSet):
    ordering = ("-opened_at", "-id")  # the cursor pages' order (NewestFirst): its index's order
    queryset = Alert.objects.order_by(*ordering)
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    pagination_class = NewestFirst
    lookup_value_converter = "int"
    acts = {"resolve": "alert.resolve"}

    @extend_schema(
        request=None,
        responses=responses(s.AlertResolvedSerializer),
        summary="Resolve an open alert by hand (sends the recovery notice)",
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk: int):
        return Response(actions.resolve_alert(request, self.get_object()))


@extend_schema(tags=["schedules"])
class ScheduleViewSet(OpsViewSet):
    pagination_class = None  # a short list, always whole
    lookup_field = "name"  # `operations.sample_queues`: names hold dots, as `str` allows
    acts = {"run": "schedule.run", "pause": "schedule.pause", "resume": "schedule.resume"}

    def periodic(self, name: str) -> PeriodicTask:
        if not ManagedJob.objects.filter(name=name).exists():
            raise Http404(f"No periodic job {name!r}.")
        return get_object_or_404(PeriodicTask, name=name)

    @extend_schema(responses=responses(s.ScheduleSerializer(many=True)))
    def list(self, request):
        from scheduler.runlog import job_statuses

        return Response([status_.as_dict() for status_ in job_statuses()])

    @extend_schema(responses=responses(s.ScheduleSerializer))
    def retrieve(self, request, name: str):
        from scheduler.runlog import job_statuses

        for status_ in job_statuses():
            if status_.name == name:
                return Response(status_.as_dict())
        raise Http404(f"No periodic job {name!r}.")

    @extend_schema(
        request=None,
        responses=responses(s.ScheduleRunSerializer, UNAVAILABLE),
        summary="Send the job's task now (recorded in the run log like a scheduled run)",
    )
    @action(detail=True, methods=["post"])
    def run(self, request, name: str):
        try:
            return Response(actions.run_schedule(request, self.periodic(name)))
        except actions.ActionFailed as exc:
            return unavailable(exc)

    @extend_schema(request=None, responses=responses(s.ScheduleStateSerializer))
    @action(detail=True, methods=["post"])
    def pause(self, request, name: str):
        return Response(actions.set_schedule_enabled(request, self.periodic(name), False))

    @extend_schema(request=None, responses=responses(s.ScheduleStateSerializer))
    @action(detail=True, methods=["post"])
    def resume(self, request, name: str):
        return Response(actions.set_schedule_enabled(request, self.periodic(name), True))
