"""The helpdesk app's configuration."""

from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        # Modules that define or connect to the helpdesk's signals, one import each.
        from helpdesk import broadcasting, events, notifications  # noqa: F401
