"""Receivers of Anymail's tracking signal: every Mailgun event is kept, through a task or at once."""

from __future__ import annotations

import logging

from anymail.signals import tracking
from django.dispatch import receiver
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mailops import recording
from mailops.tasks import store_event

log = logging.getLogger(__name__)

# What publishing raises when the broker (Redis or RabbitMQ) does not answer; kombu wraps most
# transport errors in its OperationalError, the socket's own may come through as they are.
BROKER_UNREACHABLE = (BrokerError, RedisConnectionError, RedisTimeoutError, OSError)


@receiver(tracking, dispatch_uid="mailops.store_tracking_event")
def store_tracking_event(sender, event, esp_name, **kwargs) -> None:
    """Return once the AnymailTrackingEvent is safe (published to the broker, or committed), so
    the webhook's 200 means kept. A broker that cannot take it does not fail the webhook: the
    event is stored directly instead; with the database unreachable too, that raises, and the
    webhook answers 503 (opsproject.outages) so Mailgun retries."""
    fields = recording.fields_of(event)
    try:
        # The event id names the message in logs and monitoring: a repr of every field (Celery's
        # default) would cost the webhook time and put recipients' addresses in worker logs.
        store_event.apply_async((fields,), argsrepr=repr((fields["event_id"],)), kwargsrepr="{}")
    except BROKER_UNREACHABLE as error:
        log.warning(
            "task queue unavailable (%s); storing mail event %s directly",
            type(error).__name__,
            event.event_id,
        )
        recording.store(fields)
