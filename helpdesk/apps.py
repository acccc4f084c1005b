"""The helpdesk app's configuration."""

from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        # The realtime channel rules and the receivers of the helpdesk's signals.
        from helpdesk import broadcasting  # noqa: F401
