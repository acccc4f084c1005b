"""The mail tables: messages we sent, events Mailgun reported about them, and the suppression list."""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone

from mailops.stored_counter import StoredCounter

# RFC 5321's limit on a forward path; also what MariaDB allows in a unique column.
MAX_ADDRESS = 254
# The counter hash (shared key-value store) of the MailEvents stored, by type, since it began:
# what /metrics reports, so a scrape reads one hash instead of grouping the whole table.
STORED_COUNTS = "mailops:events:stored"
# Adds to it without slowing the storing when the store hangs (mailops/stored_counter.py).
stored_counter = StoredCounter(STORED_COUNTS)
# MailEvent.Type: Anymail's normalized event types, plus our own `suppressed`.
EVENT_TYPES = (
    "queued sent rejected failed bounced deferred delivered autoresponded opened clicked complained"
    " unsubscribed subscribed inbound inbound_failed unknown suppressed"
)


def address_key(address: str) -> str:
    """The form addresses are compared in: stripped and case-folded (Mailgun ignores case too)."""
    return address.strip().lower()


class OutboundMessage(models.Model):
    """One message handed to the send API, from enqueueing to Mailgun's answer."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SUPPRESSED = "suppressed", "Suppressed (no recipient left)"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=100, blank=True, db_index=True, help_text="What the mail is for.")
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list, help_text="Recipients as asked for.")
    recipients = models.JSONField(default=list, blank=True, help_text="Recipients actually sent to.")
    subject = models.CharField(max_length=998)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # Mailgun's id (`<...@domain>`), which its webhooks name the message by.
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    task_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:60]} ({self.status})"


class MailEvent(models.Model):
    """One event about one recipient: from Mailgun's webhook, or `suppressed` by the send task.

    `event_id` is unique, so a webhook Mailgun retries or someone replays is stored once.
    """

    Type = models.TextChoices("Type", [(name.upper(), name) for name in EVENT_TYPES.split()])

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=32, choices=Type.choices)
    esp_event = models.CharField(max_length=64, blank=True, help_text="Mailgun's own event name.")
    recipient = models.CharField(max_length=320, blank=True)
    recipient_key = models.CharField(max_length=320, blank=True, editable=False)
    message_id = models.CharField(max_length=255, blank=True)
    outbound = models.ForeignKey(
        OutboundMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    reject_reason = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    mta_response = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    received_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        # Each index slows the webhook INSERT (bench/webhook.py): only the ones queries need.
        indexes = [
            # The soft-bounce count of one address (mailops.suppression).
            models.Index(
                fields=["recipient_key", "event_type", "occurred_at"], name="mailops_event_rcpt_idx"
            ),
            # The 24 h bounce rate (mail health check) and `mail_events --type`.
            models.Index(fields=["event_type", "occurred_at"], name="mailops_event_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient} ({self.event_id[:12]})"

    def save(self, *args, **kwargs) -> None:
        # Lower case may be longer than the address ("İ" is two characters): cut to the column.
        self.recipient_key = address_key(self.recipient)[: self._meta.get_field("recipient_key").max_length]
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:  # counted once committed: a rolled-back event was never stored
            transaction.on_commit(lambda: stored_counter.add(self.event_type))


class Suppression(models.Model):
    """An address we no longer send to, and why. One row per address, compared case-insensitively."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Permanent failure"
        SOFT_BOUNCED = "soft_bounced", "Repeated temporary failures"
        COMPLAINED = "complained", "Spam complaint"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        MANUAL = "manual", "Added by an operator"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Mailgun webhook"
        IMPORT = "import", "Imported from Mailgun"
        OPERATOR = "operator", "Operator"

    address = models.CharField(max_length=MAX_ADDRESS)
    address_key = models.CharField(max_length=MAX_ADDRESS, unique=True, editable=False)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    detail = models.TextField(blank=True)
    event = models.ForeignKey(MailEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_suppression", "Can add, change and remove suppressions")]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"

    def save(self, *args, **kwargs) -> None:
        self.address_key = address_key(self.address)
        super().save(*args, **kwargs)
