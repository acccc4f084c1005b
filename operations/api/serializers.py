"""The ops API's payloads: what each endpoint returns, and the strict shapes it accepts."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from audit.models import AuditEntry
from mailops.models import MailEvent
from opsproject.serializers import StrictSerializer


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- failed jobs ----------------------------------------------------------------------------


class FailedJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.CharField()
    task = serializers.CharField()
    queue = serializers.CharField(allow_blank=True)
    exception = serializers.CharField(allow_blank=True)
    message = serializers.CharField(source="shown_message", allow_blank=True)
    attempts = serializers.IntegerField()
    worker = serializers.CharField(allow_blank=True)
    failed_at = serializers.DateTimeField()
    args = serializers.JSONField()
    kwargs = serializers.JSONField()


class FailedJobDetailSerializer(FailedJobSerializer):
    traceback = serializers.CharField(source="shown_traceback", allow_blank=True)


class FailedJobFilterSerializer(StrictSerializer):
    """Query parameters of the list, and the body of flush / bulk retry."""

    queue = serializers.CharField(required=False, max_length=255)
    task = serializers.CharField(required=False, max_length=255)
    exception = serializers.CharField(required=False, max_length=255)
    failed_after = serializers.DateTimeField(required=False)
    failed_before = serializers.DateTimeField(required=False)


class FailedJobListQuery(FailedJobFilterSerializer):
    page = serializers.IntegerField(required=False, min_value=1)


class FailedJobBulkSerializer(FailedJobFilterSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not any(
            key in attrs for key in ("ids", *FailedJobFilterSerializer().fields)
        ):
            raise serializers.ValidationError(
                {"non_field_errors": ['Name the jobs (ids or a filter), or send "all": true for every job.']}
            )
        return attrs


class RetriedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task = serializers.CharField()
    new_task_id = serializers.CharField()


class BulkRetryResultSerializer(serializers.Serializer):
    retried = serializers.ListField(child=serializers.IntegerField())
    failed = serializers.ListField(child=serializers.DictField())


class FlushResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    filters = serializers.DictField()


# --- queues and workers ---------------------------------------------------------------------


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    oldest_wait = serializers.FloatField(allow_null=True, help_text="seconds the oldest message has waited")
    consumers = serializers.IntegerField(help_text="live workers consuming the queue")


class WorkerSerializer(serializers.Serializer):
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    queues = serializers.ListField(child=serializers.CharField())
    active = serializers.IntegerField()
    processed = serializers.IntegerField()
    concurrency = serializers.IntegerField(allow_null=True)
    started_at = serializers.FloatField()
    at = serializers.FloatField()
    age = serializers.FloatField()
    alive = serializers.BooleanField()


# --- alerts ---------------------------------------------------------------------------------


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    source = serializers.CharField(allow_blank=True)
    severity = serializers.CharField()
    summary = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    opened_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    reminders = serializers.IntegerField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    is_open = serializers.BooleanField()


class AlertQuery(StrictSerializer):
    state = serializers.ChoiceField(choices=["open", "resolved"], required=False)
    page = serializers.IntegerField(required=False, min_value=1)


class AlertResolvedSerializer(serializers.Serializer):
    key = serializers.CharField()
    resolved = serializers.BooleanField()


# --- schedules ------------------------------------------------------------------------------


class ScheduleSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    schedule = serializers.CharField()
    enabled = serializers.BooleanField()
    critical = serializers.BooleanField()
    in_code = serializers.BooleanField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_outcome = serializers.CharField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    next_due_at = serializers.DateTimeField(allow_null=True)
    late = serializers.BooleanField()
    late_by_seconds = serializers.IntegerField()


class ScheduleRunSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    task_id = serializers.CharField()


class ScheduleStateSerializer(serializers.Serializer):
    name = serializers.CharField()
    enabled = serializers.BooleanField()


# --- backups --------------------------------------------------------------------------------


class BackupSerializer(serializers.Serializer):
    backup_id = serializers.CharField()
    status = serializers.CharField()
    database_alias = serializers.CharField()
    vendor = serializers.CharField()
    archive_name = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    raw_size = serializers.IntegerField(allow_null=True)
    stored_size = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)


def _alias_field():
    return serializers.ChoiceField(choices=sorted(settings.DATABASES), required=False, default="default")


class BackupStartSerializer(StrictSerializer):
    alias = _alias_field()
    note = serializers.CharField(required=False, default="operator", max_length=200, allow_blank=True)


class DrillSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    backup_id = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    rto_seconds = serializers.FloatField()
    rpo_seconds = serializers.FloatField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class DrillStartSerializer(StrictSerializer):
    reference = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,100}$",
        required=False,
        default="latest",
        help_text="`latest` or a backup id",
    )
    alias = _alias_field()

    def validate_reference(self, value: str) -> str:
        from backups.models import BackupRecord

        if value != "latest" and not BackupRecord.objects.filter(backup_id=value).exists():
            raise serializers.ValidationError(
                f"No backup {value!r}; use `latest` or an id from /api/ops/backups/."
            )
        return value


class StartedSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    alias = serializers.CharField()
    note = serializers.CharField(required=False)
    reference = serializers.CharField(required=False)


# --- mail -----------------------------------------------------------------------------------


class MailEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    esp_event = serializers.CharField(allow_blank=True)
    recipient = serializers.CharField(allow_blank=True)
    message_id = serializers.CharField(allow_blank=True)
    reject_reason = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    occurred_at = serializers.DateTimeField()


class MailEventQuery(StrictSerializer):
    type = serializers.ChoiceField(choices=MailEvent.Type.values, required=False)
    recipient = serializers.CharField(required=False, max_length=320)
    page = serializers.IntegerField(required=False, min_value=1)


class SuppressionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    address = serializers.CharField()
    reason = serializers.CharField()
    source = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class SuppressionAddSerializer(StrictSerializer):
    address = serializers.EmailField(max_length=320)
    detail = serializers.CharField(required=False, default="", max_length=2000, allow_blank=True)


class SuppressionQuery(StrictSerializer):
    address = serializers.CharField(required=False, max_length=320)
    page = serializers.IntegerField(required=False, min_value=1)


# --- audit ----------------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "at", "username", "action", "target", "detail", "channel", "outcome", "remote_addr"]


class AuditQuery(StrictSerializer):
    action = serializers.CharField(required=False, max_length=100)
    username = serializers.CharField(required=False, max_length=150)
    page = serializers.IntegerField(required=False, min_value=1)


class PageQuery(StrictSerializer):
    page = serializers.IntegerField(required=False, min_value=1)
