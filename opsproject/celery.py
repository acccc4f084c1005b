"""The Celery application: configuration, task discovery, and the one place where the apps' worker
bootsteps and signal receivers are wired (apps themselves use `shared_task` / `current_app`)."""

import logging.config
import os

import structlog
from celery import Celery, signals
from django.conf import settings
from django.db import close_old_connections, reset_queries
from kombu.utils.imports import symbol_by_name

from opsproject import logs

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

# --- the apps' bootsteps and signal receivers ------------------------------------------------
# Named by dotted path and imported on first use: this module is loaded with the settings
# (opsproject/__init__.py), before the app registry can import the apps' modules.

# Every worker publishes its heartbeat (worker liveness: queue_workers, the queue health check).
app.steps["consumer"].add("queueops.heartbeat:Heartbeat")

RECEIVERS = [
    # Every publisher stamps `enqueued_at`: the queues' oldest-message age.
    (signals.before_task_publish, "queueops.broker:stamp_enqueued_at"),
    # The periodic-job run log (the scheduler's dead man's switch).
    (signals.task_prerun, "scheduler.runlog:record_start"),
    (signals.task_postrun, "scheduler.runlog:record_finish"),
    # Task outcome counters for /metrics and the dashboard, from whichever process ran the task.
    (signals.task_success, "operations.outcomes:on_success"),
    (signals.task_failure, "operations.outcomes:on_failure"),
    (signals.task_retry, "operations.outcomes:on_retry"),
    (signals.task_revoked, "operations.outcomes:on_revoked"),
    (signals.task_rejected, "operations.outcomes:on_rejected"),
]


def _lazy(path: str):
    resolved = None

    def receiver(**kwargs):
        nonlocal resolved
        if resolved is None:
            resolved = symbol_by_name(path)
        return resolved(**kwargs)

    return receiver


for _signal, _path in RECEIVERS:
    _signal.connect(_lazy(_path), dispatch_uid=_path, weak=False)

# Log context across processes: a task published while serving a request carries its id in a
# message header; the worker binds it, with the task's id and name and the periodic job's name
# (django-celery-beat's header), for every line the task writes (opsproject/logs.py).
REQUEST_ID = "request_id"


@signals.celeryd_after_setup.connect
def _declare_routed_queues(sender=None, instance=None, **kwargs):
    """On RabbitMQ, declare every queue of the worker's routing table before its consumer starts.

    Celery's native delayed delivery binds every queue the app knows to its delivery exchange,
    but a worker declares only those it consumes: one started with `-Q restore` before any
    `celery` consumer ran failed that binding ("Failed to setup delayed delivery"). Declaring
    them here (idempotent) lets every binding succeed, so a countdown to any queue comes back.
    """
    if not settings.BROKER_IS_RABBITMQ or instance is None:
        return
    from kombu.common import Broadcast

    queues = [queue for queue in instance.app.amqp.queues.values() if not isinstance(queue, Broadcast)]
    try:
        with instance.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=3)
            with conn.channel() as channel:
                for queue in queues:
                    queue(channel).declare()
    except Exception as exc:  # the broker down at start: the bootstep retries and says so itself
        logging.getLogger(__name__).warning(
            "queues not declared before the delayed delivery setup (%s)", type(exc).__name__
        )


@signals.task_prerun.connect
@signals.task_postrun.connect
def _check_database_connections(task=None, **kwargs):
    """Around each task as Django around each request: drop a connection that is past
    CONN_MAX_AGE, broken, or fails its health check (settings' CELERY_DB_REUSE_MAX keeps it
    otherwise), and forget the queries DEBUG logged (else each worker process holds its last
    9,000). Not for a task run eagerly: that is inside its caller's request or transaction."""
    if task is not None and not task.request.is_eager:
        reset_queries()
        close_old_connections()


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    request_id = structlog.contextvars.get_contextvars().get(REQUEST_ID)
    if request_id and headers is not None and REQUEST_ID not in headers:
        headers[REQUEST_ID] = request_id


@signals.task_prerun.connect
def _bind_task_context(task_id=None, task=None, **kwargs):
    structlog.contextvars.clear_contextvars()
    context = {"task_id": task_id, "task_name": task.name if task else None}
    if task is not None:
        for key, header in ((REQUEST_ID, REQUEST_ID), ("job", "periodic_task_name")):
            value = task.request.get(header)
            # Headers come from whoever could publish; only a well-formed id is trusted.
            if isinstance(value, str) and (key != REQUEST_ID or logs.REQUEST_ID.fullmatch(value)):
                context[key] = value
    structlog.contextvars.bind_contextvars(**context)


@signals.task_postrun.connect
def _unbind_task_context(**kwargs):
    structlog.contextvars.clear_contextvars()


def _keep_django_logging(**kwargs):
    """Celery would replace the handlers with its own format; keep settings.LOGGING's JSON lines."""
    logging.config.dictConfig(settings.LOGGING)


# Development keeps Celery's own readable worker lines (Celery configures logging itself
# only when nothing is connected to setup_logging).
if settings.LOG_FORMAT == "json":
    signals.setup_logging.connect(_keep_django_logging, weak=False)
