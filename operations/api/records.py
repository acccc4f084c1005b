"""The ops API's records: backups and drills (and starting them), mail events, the suppression
list, the audit log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from audit.models import AuditEntry
from backups.models import BackupDrill, BackupRecord
from mailops.models import MailEvent, Suppression
from operations import actions
from operations.api import serializers as s
from operations.api.base import UNAVAILABLE, OpsViewSet, body, responses, unavailable
from operations.api.filters import AuditFilter, MailEventFilter, SuppressionFilter


@extend_schema(tags=["backups"])
class BackupViewSet(OpsViewSet):
    queryset = BackupRecord.objects.order_by("-started_at", "-id")
    serializer_class = s.BackupSerializer
    acts = {"create": "backup.start"}

    @extend_schema(responses=responses(s.BackupSerializer(many=True)))
    def list(self, request):
        return self.paginated(self.get_queryset())

    @extend_schema(
        request=s.BackupStartSerializer,
        responses=responses(s.StartedSerializer, UNAVAILABLE, code=202),
        summary="Start a backup now (the task runs on a worker)",
    )
    def create(self, request):
        data = body(s.BackupStartSerializer, request)
        try:
            started = actions.start_backup(request, data["alias"], data["note"])
        except actions.ActionFailed as exc:
            return unavailable(exc)
        return Response(started, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["backups"])
class DrillViewSet(OpsViewSet):
    queryset = BackupDrill.objects.order_by("-finished_at", "-id")
    serializer_class = s.DrillSerializer
    acts = {"create": "backup.drill"}

    @extend_schema(responses=responses(s.DrillSerializer(many=True)))
    def list(self, request):
        return self.paginated(self.get_queryset())

    @extend_schema(
        request=s.DrillStartSerializer,
        responses=responses(s.StartedSerializer, UNAVAILABLE, code=202),
        summary="Start a restore drill of a backup (the task runs on a worker)",
    )
    def create(self, request):
        data = body(s.DrillStartSerializer, request)
        try:
            started = actions.start_drill(request, data["reference"], data["alias"])
        except actions.ActionFailed as exc:
            return unavailable(exc)
        return Response(started, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["mail"])
class MailEventViewSet(OpsViewSet):
    queryset = MailEvent.objects.order_by("-occurred_at", "-id")
    serializer_class = s.MailEventSerializer
    filterset_class = MailEventFilter

    @extend_schema(responses=responses(s.MailEventSerializer(many=True)))
    def list(self, request):
        return self.paginated(self.get_queryset())


@extend_schema(tags=["mail"])
class SuppressionViewSet(OpsViewSet):
    queryset = Suppression.objects.order_by("-created_at", "-id")
    serializer_class = s.SuppressionSerializer
    filterset_class = SuppressionFilter
    lookup_value_converter = "int"
    acts = {"create": "suppression.add", "destroy": "suppression.remove"}

    @extend_schema(responses=responses(s.SuppressionSerializer(many=True)))
    def list(self, request):
        return self.paginated(self.get_queryset())

    @extend_schema(
        request=s.SuppressionAddSerializer,
        responses={
            **responses(s.SuppressionSerializer, code=201),
            200: OpenApiResponse(s.SuppressionSerializer, description="Already on the list."),
        },
        summary="Put an address on the suppression list (no mail is sent to it)",
    )
    def create(self, request):
        data = body(s.SuppressionAddSerializer, request)
        row, created = actions.add_suppression(request, data["address"], data["detail"])
        return Response(self.get_serializer(row).data, status=201 if created else 200)

    @extend_schema(responses=responses(s.SuppressionSerializer))
    def retrieve(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses=responses(s.SuppressionSerializer), summary="Take an address off")
    def destroy(self, request, pk: int):
        row = self.get_object()
        data = self.get_serializer(row).data
        actions.remove_suppression(request, row)
        return Response(data)


@extend_schema(tags=["audit"])
class AuditViewSet(OpsViewSet):
    queryset = AuditEntry.objects.order_by("-at", "-id")
    serializer_class = s.AuditEntrySerializer
    filterset_class = AuditFilter

    @extend_schema(responses=responses(s.AuditEntrySerializer(many=True)))
    def list(self, request):
        return self.paginated(self.get_queryset())
