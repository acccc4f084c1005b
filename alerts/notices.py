"""Alerts any app raises: one notice when a condition starts, sparse reminders, one recovery.

    from alerts.notices import raise_alert, resolve_alert

    raise_alert("backups.stale", "No backup for 26 h", detail="...", source="backups")
    ...
    resolve_alert("backups.stale")

`raise_alert` is meant to be called every time a check sees the condition: the first call opens
the alert and notifies; later calls notify again (a reminder) only once `repeat` seconds
(QUEUE_ALERT_REPEAT) have passed since the last notice. `resolve_alert` closes the open alert
and sends one recovery notice with its duration; it does nothing when nothing is open, so a
check may call it on every healthy run. Each episode is a stored `Alert` row (admin: Alerts).

Where notices go (ADMINS, ALERT_WEBHOOK_URL; sending never raises): docs/PRODUCTION_ENV.md;
how concurrent checks send one notice: docs/ARCHITECTURE.md "Alerts".
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import Alert

__all__ = ["Alert", "raise_alert", "resolve_alert"]

log = logging.getLogger(__name__)

OPENED, REMINDER, RESOLVED = "opened", "reminder", "resolved"


def raise_alert(
    key: str,
    summary: str,
    detail: str = "",
    *,
    source: str = "",
    severity: str = Alert.CRITICAL,
    repeat: float | None = None,
) -> Alert:
    """Open the alert `key`, or remind about it if `repeat` s passed since the last notice."""
    now = timezone.now()
    repeat = settings.QUEUE_ALERT_REPEAT if repeat is None else repeat
    fields = {"summary": summary[:500], "detail": detail, "source": source, "severity": severity}
    alert = Alert.objects.filter(open_key=key).first()
    if alert is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    key=key, open_key=key, opened_at=now, last_notified_at=now, **fields
                )
        except IntegrityError:  # another process opened it a moment ago: that one notifies
            alert = Alert.objects.filter(open_key=key).first()
            if alert is None:  # ...and it was resolved in between: leave it to the next check
                raise
        else:
            transaction.on_commit(partial(notify, alert, OPENED))
            return alert
    Alert.objects.filter(pk=alert.pk).update(last_seen_at=now, **fields)
    due = alert.last_notified_at is None or now - alert.last_notified_at >= timedelta(seconds=repeat)
    # Only the caller whose update finds the old notice time sends the reminder.
    reminded = due and Alert.objects.filter(pk=alert.pk, last_notified_at=alert.last_notified_at).update(
        last_notified_at=now, reminders=alert.reminders + 1
    )
    alert.refresh_from_db()
    if reminded:
        transaction.on_commit(partial(notify, alert, REMINDER))
    return alert


def resolve_alert(key: str) -> Alert | None:
    """Close the open alert `key` and send the recovery notice; None when none was open."""
    alert = Alert.objects.filter(open_key=key).first()
    if alert is None:
        return None
    if not Alert.objects.filter(pk=alert.pk, open_key=key).update(open_key=None, resolved_at=timezone.now()):
        return None  # resolved by someone else, who sent the notice
    alert.refresh_from_db()
    transaction.on_commit(partial(notify, alert, RESOLVED))
    return alert


def duration_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def message(alert: Alert, kind: str) -> tuple[str, str]:
    """The subject and body of a notice."""
    severity, lasted = alert.severity.upper(), duration_text(alert.duration)
    subject = {
        OPENED: f"[{severity}] {alert.summary}",
        REMINDER: f"[STILL {severity}] {alert.summary} (open {lasted})",
    }.get(kind, f"[RESOLVED] {alert.summary} (after {lasted})")
    lines = [subject, "", f"alert: {alert.key}"]
    if alert.source:
        lines.append(f"source: {alert.source}")
    lines.append(f"opened: {alert.opened_at.isoformat(timespec='seconds')}")
    if alert.resolved_at:
        lines.append(f"resolved: {alert.resolved_at.isoformat(timespec='seconds')}")
    if alert.detail and kind != RESOLVED:
        lines += ["", alert.detail]
    return subject, "\n".join(lines)


def notify(alert: Alert, kind: str) -> None:
    """Mail ADMINS and POST to the webhook; log failures, never raise them."""
    subject, body = message(alert, kind)
    log.warning("alert %s %s: %s", alert.key, kind, alert.summary)
    if settings.ADMINS:
        try:
            mail_admins(subject, body, fail_silently=False)
        except Exception as exc:
            log.error("alert %s: mail to ADMINS failed: %s: %s", alert.key, type(exc).__name__, exc)
    if settings.ALERT_WEBHOOK_URL:
        post_webhook(alert, kind, body)


def post_webhook(alert: Alert, kind: str, text: str) -> bool:
    payload = json.dumps({"text": text}).encode()
    request = urllib.request.Request(  # noqa: S310 - the operator's own URL, from settings
        settings.ALERT_WEBHOOK_URL, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT) as response:  # noqa: S310
            response.read(1024)
        return True
    except Exception as exc:
        # The URL often carries a token: name the error, not the address.
        log.error("alert %s: webhook POST (%s) failed: %s", alert.key, kind, type(exc).__name__)
        return False
