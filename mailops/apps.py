"""The mailops app's configuration."""

from django.apps import AppConfig


class MailopsConfig(AppConfig):
    name = "mailops"
    verbose_name = "Mail operations"

    def ready(self) -> None:
        # Connects the tracking-signal receiver that hands Mailgun's events on to be stored.
        from mailops import receivers  # noqa: F401
