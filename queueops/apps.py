"""The queueops app's configuration."""

from django.apps import AppConfig


class QueueopsConfig(AppConfig):
    name = "queueops"
    verbose_name = "Queue operations"

    def ready(self):
        # The cleanup task lives outside tasks.py (autodiscovery reads tasks.py only). The worker's
        # heartbeat step and the enqueued_at stamp are wired in opsproject/celery.py.
        from queueops import cleanup  # noqa: F401
