"""The operations app's configuration."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        # Every process that runs tasks counts their outcomes in the shared store.
        from operations import checks, outcomes  # noqa: F401 - checks register themselves

        outcomes.connect()
