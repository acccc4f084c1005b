"""The helpdesk's data: tickets with their SLA clock, public replies and internal notes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from helpdesk import sla


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SOLVED = "solved", "Solved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class BreachKind(models.TextChoices):
        FIRST_RESPONSE = sla.FIRST_RESPONSE, "First response"
        RESOLUTION = sla.RESOLUTION, "Resolution"

    # The SLA clock runs only while a ticket waits on the helpdesk.
    ACTIVE_STATUSES = (Status.OPEN, Status.PENDING)
    # The times and the clock: the code sets them (services, apply_sla_policy), never a form.
    CLOCK_FIELDS = (
        "created_at",
        "updated_at",
        "first_responded_at",
        "sla_first_response_due_at",
        "sla_resolution_due_at",
        "sla_breached_at",
        "sla_breach_kind",
    )

    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="collaborating_tickets"
    )
    # A default rather than auto_now_add: the SLA due times are computed from it before saving.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    sla_first_response_due_at = models.DateTimeField(null=True, blank=True)
    sla_resolution_due_at = models.DateTimeField(null=True, blank=True)
    # Set once, by the first missed due time; kept when the priority changes afterwards.
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    sla_breach_kind = models.CharField(max_length=16, choices=BreachKind.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "sla_breached_at"], name="helpdesk_ticket_sla_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def save(self, *args, **kwargs) -> None:
        if self._state.adding and self.sla_first_response_due_at is None:
            self.apply_sla_policy()
        super().save(*args, **kwargs)

    def apply_sla_policy(self) -> None:
        """Set the due times from the creation time and the current priority's policy."""
        due: dict[str, datetime] = sla.due_times(self.created_at, self.priority)
        self.sla_first_response_due_at = due[sla.FIRST_RESPONSE]
        self.sla_resolution_due_at = due[sla.RESOLUTION]


class Reply(models.Model):
    """A message on the ticket's thread; public ones are what the requester sees."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    public = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"Reply {self.pk} on ticket {self.ticket_id}"


class Note(models.Model):
    """An internal remark between agents; never shown to requesters or collaborators."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note {self.pk} on ticket {self.ticket_id}"
