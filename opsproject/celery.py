"""The Celery application: configuration from Django settings, tasks autodiscovered per app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

app = Celery("opsproject")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    # Celery 6 stops retrying the first broker connection unless told to. A worker that
    # starts before Redis (compose start order, a Redis restart) must wait for it rather
    # than exit and flap, so keep retrying, explicitly.
    broker_connection_retry_on_startup=True,
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    # Acknowledge after the task ran, not when it was received: a worker that dies
    # mid-task leaves the message unacknowledged and the broker hands it out again.
    task_acks_late=True,
    # ...and when a pool child is killed (OOM, SIGKILL), reject and requeue the message
    # instead of acking it as failed, so the task is not lost.
    task_reject_on_worker_lost=True,
    # With late acks, prefetched messages are held by one worker while it runs a long
    # task; fetch one at a time so other workers can take the rest.
    worker_prefetch_multiplier=1,
)

# `visibility_timeout` for Redis is set in settings.CELERY_BROKER_TRANSPORT_OPTIONS, next to
# the broker URL it belongs to; see the comment there for why it is an hour.

app.autodiscover_tasks()
