"""The queueops app's configuration."""

from django.apps import AppConfig


class QueueopsConfig(AppConfig):
    name = "queueops"
    verbose_name = "Queue operations"

    def ready(self):
        # Worker-side signal receivers and tasks that live outside tasks.py.
        # Every process that publishes stamps `enqueued_at` (queue ages); every worker beats.
        from celery.signals import before_task_publish

        from opsproject.celery import app
        from queueops import cleanup, runlog  # noqa: F401
        from queueops.broker import stamp_enqueued_at
        from queueops.heartbeat import Heartbeat

        before_task_publish.connect(stamp_enqueued_at, dispatch_uid="queueops.enqueued_at")
        if Heartbeat not in app.steps["consumer"]:
            app.steps["consumer"].add(Heartbeat)
