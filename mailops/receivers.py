"""Receivers of Anymail's tracking signal: every Mailgun event is stored (see mailops.recording)."""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver

from mailops import recording


@receiver(tracking, dispatch_uid="mailops.store_tracking_event")
def store_tracking_event(sender, event, esp_name, **kwargs) -> None:
    # Not caught: a failure must reach the webhook as a 5xx so Mailgun retries.
    recording.record(event)
