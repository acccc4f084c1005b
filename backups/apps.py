"""The backups app's configuration."""

from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        # Connects the worker_ready handler that keeps a worker started mid-restore paused.
        from backups import workers  # noqa: F401
