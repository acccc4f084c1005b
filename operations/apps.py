"""The operations app's configuration."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        # The task outcome receivers (operations.outcomes) are wired in opsproject/celery.py.
        from operations import checks  # noqa: F401 - checks register themselves
