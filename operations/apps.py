"""The operations app's configuration."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        # Every process that runs tasks counts their outcomes in the shared store, and every
        # websocket process adds its dropped-message reports to a shared counter.
        from operations import checks, outcomes, realtime_drops  # noqa: F401 - checks register themselves

        outcomes.connect()
        realtime_drops.install()
