"""Receivers of Anymail's tracking signal: every Mailgun event is kept (see mailops.recording.record)."""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver

from mailops import recording


@receiver(tracking, dispatch_uid="mailops.store_tracking_event")
def store_tracking_event(sender, event, esp_name, **kwargs) -> None:
    # Not caught: a failure (broker and database both down) must reach the webhook as a 5xx
    # so Mailgun retries.
    recording.record(event)
