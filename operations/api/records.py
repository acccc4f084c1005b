"""The ops API's records: backups and drills (and starting them), mail events, the suppression
list, the audit log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.response import Response

from audit.models import AuditEntry
from backups.models import BackupDrill, BackupRecord
from mailops.models import MailEvent, Suppression
from operations import actions
from operations.api import serializers as s
from operations.api.base import UNAVAILABLE, OpsViewSet, body, listing, responses, unavailable
from operations.api.filters import AuditFilter, MailEventFilter, SuppressionFilter
from operations.api.pagination import NewestFirst


class StartViewSet(OpsViewSet):
    """Records of a task, and POST to start one on a worker: 202, or 503 with nothing sent."""

    start_serializer: type  # the POST body; `start(request, data)` sends the task

    def create(self, request):
        try:
            return Response(self.start(request, body(self.start_serializer, request)), status=202)
        except actions.ActionFailed as exc:
            return unavailable(exc)


def _documented(serializer, start_serializer, summary: str):
    """The schema of a StartViewSet: its list of `serializer`, and its POST."""
    started = responses(s.StartedSerializer, UNAVAILABLE, code=202)
    create = extend_schema(request=start_serializer, responses=started, summary=summary)
    return lambda viewset: extend_schema(tags=["backups"])(
        listing(serializer)(extend_schema_view(create=create)(viewset))
    )


@_documented(s.BackupSerializer, s.BackupStartSerializer, "Start a backup now (the task runs on a worker)")
class BackupViewSet(StartViewSet):
    queryset = BackupRecord.objects.order_by("-started_at", "-id")
    serializer_class = s.BackupSerializer
    start_serializer = s.BackupStartSerializer
    acts = {"create": "backup.start"}

    def start(self, request, data: dict) -> dict:
        return actions.start_backup(request, data["alias"], data["note"])


@_documented(
    s.DrillSerializer, s.DrillStartSerializer, "Start a restore drill of a backup (the task runs on a worker)"
)
class DrillViewSet(StartViewSet):
    queryset = BackupDrill.objects.order_by("-finished_at", "-id")
    serializer_class = s.DrillSerializer
    start_serializer = s.DrillStartSerializer
    acts = {"create": "backup.drill"}

    def start(self, request, data: dict) -> dict:
        return actions.start_drill(request, data["reference"], data["alias"])


@extend_schema(tags=["mail"])
@listing(s.MailEventSerializer)
class MailEventViewSet(OpsViewSet):
    ordering = ("-occurred_at", "-id")  # the cursor pages' order (NewestFirst): its index's order
    queryset = MailEvent.objects.order_by(*ordering)
    serializer_class = s.MailEventSerializer
    filterset_class = MailEventFilter
    pagination_class = NewestFirst


@extend_schema(tags=["mail"])
@listing(s.SuppressionSerializer)
@extend_schema_view(retrieve=extend_schema(responses=responses(s.SuppressionSerializer)))
class SuppressionViewSet(mixins.RetrieveModelMixin, OpsViewSet):
    queryset = Suppression.objects.order_by("-created_at", "-id")
    serializer_class = s.SuppressionSerializer
    filterset_class = SuppressionFilter
    lookup_value_converter = "int"
    acts = {"create": "suppression.add", "destroy": "suppression.remove"}

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

    @extend_schema(responses=responses(s.SuppressionSerializer), summary="Take an address off")
    def destroy(self, request, pk: int):
        row = self.get_object()
        data = self.get_serializer(row).data
        actions.remove_suppression(request, row)
        return Response(data)


@extend_schema(tags=["audit"])
@listing(s.AuditEntrySerializer)
class AuditViewSet(OpsViewSet):
    ordering = ("-at", "-id")  # the cursor pages' order (NewestFirst): its index's order
    queryset = AuditEntry.objects.order_by(*ordering)
    serializer_class = s.AuditEntrySerializer
    filterset_class = AuditFilter
    pagination_class = NewestFirst
