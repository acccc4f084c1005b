"""The ops API's payloads: what each endpoint returns, and the strict shapes it accepts."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from alerts.models import Alert
from audit.models import AuditEntry
from backups.models import BackupDrill, BackupRecord
from mailops.models import MAX_ADDRESS, MailEvent, Suppression, address_key
from opsproject.serializers import StrictSerializer
from queueops.models import FailedJob


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class Shown(serializers.ModelSerializer):
    # A model as the API shows it: output only, so its fields carry the type, nullability and
    # help text of the model and none of its input rules (lengths, choices, read-only), which
    # would only clutter the schema of a response. (A comment: a docstring would be printed as
    # the description of every component.)

    kept = ("allow_null", "help_text")

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.ChoiceField):
            field_class = self.serializer_field_mapping[type(model_field)]
        return field_class, {key: kwargs[key] for key in self.kept if key in kwargs}


class FailedJobSerializer(Shown):
    # Masked: secrets the task saw never leave in an answer (queueops.models.FailedJob).
    message = serializers.CharField(source="shown_message", allow_blank=True)

    class Meta:
        model = FailedJob
        fields = [
            "id", "task_id", "task", "queue", "exception", "message", "attempts", "worker", "failed_at",
            "args", "kwargs",
        ]  # fmt: skip


class FailedJobDetailSerializer(FailedJobSerializer):
    traceback = serializers.CharField(source="shown_traceback", allow_blank=True)

    class Meta(FailedJobSerializer.Meta):
        fields = [*FailedJobSerializer.Meta.fields, "traceback"]


class FailedJobBulkSerializer(StrictSerializer):
    # The body of flush / bulk retry: the list's filters (FailedJobFilter), ids, or all.
    queue = serializers.CharField(required=False, max_length=255)
    task = serializers.CharField(required=False, max_length=255)
    exception = serializers.CharField(required=False, max_length=255)
    failed_after = serializers.DateTimeField(required=False)
    failed_before = serializers.DateTimeField(required=False)
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not any(key != "all" for key in attrs):
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


class AlertSerializer(Shown):
    is_open = serializers.BooleanField()

    class Meta:
        model = Alert
        fields = [
            "id", "key", "source", "severity", "summary", "detail", "opened_at", "last_seen_at", "reminders",
            "resolved_at", "is_open",
        ]  # fmt: skip


class AlertResolvedSerializer(serializers.Serializer):
    key = serializers.CharField()
    resolved = serializers.BooleanField()


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


class BackupSerializer(Shown):
    class Meta:
        model = BackupRecord
        fields = [
            "backup_id", "status", "database_alias", "vendor", "archive_name", "started_at", "finished_at",
            "raw_size", "stored_size", "sha256", "note", "error",
        ]  # fmt: skip


def _alias_field():
    return serializers.ChoiceField(choices=sorted(settings.DATABASES), required=False, default="default")


class BackupStartSerializer(StrictSerializer):
    alias = _alias_field()
    note = serializers.CharField(required=False, default="operator", max_length=200, allow_blank=True)


class DrillSerializer(Shown):
    class Meta:
        model = BackupDrill
        fields = [
            "id",
            "backup_id",
            "status",
            "started_at",
            "finished_at",
            "rto_seconds",
            "rpo_seconds",
            "detail",
        ]


class DrillStartSerializer(StrictSerializer):
    reference = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,100}$", required=False, default="latest", help_text="`latest` or a backup id"
    )
    alias = _alias_field()

    def validate_reference(self, value: str) -> str:
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


class MailEventSerializer(Shown):
    class Meta:
        model = MailEvent
        fields = [
            "id", "event_id", "event_type", "esp_event", "recipient", "message_id", "reject_reason",
            "description", "occurred_at",
        ]  # fmt: skip


class SuppressionSerializer(Shown):
    class Meta:
        model = Suppression
        fields = ["id", "address", "reason", "source", "detail", "created_at"]


class SuppressionAddSerializer(StrictSerializer):
    address = serializers.EmailField(max_length=320)
    detail = serializers.CharField(required=False, default="", max_length=2000, allow_blank=True)

    def validate_address(self, value: str) -> str:
        # The list compares lower case, which may be longer ("İ" is two characters); past the
        # key's column mailops.suppression.suppress refuses it (a ValueError, a 500 here).
        if len(address_key(value)) > MAX_ADDRESS:
            raise serializers.ValidationError(f"Ensure this address has at most {MAX_ADDRESS} characters.")
        return value


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "at", "username", "action", "target", "detail", "channel", "outcome", "remote_addr"]
