"""The mailops app's configuration."""

from django.apps import AppConfig


class MailopsConfig(AppConfig):
    name = "mailops"
    verbose_name = "Mail operations"

    def ready(self) -> None:
        # Connects the tracking-signal receivers that store Mailgun's events, and gives every
        # worker the step that stores the events the webhook left in the inbox.
        from mailops import receivers  # noqa: F401
        from mailops.inbox import InboxDrain
        from opsproject.celery import app

        if InboxDrain not in app.steps["worker"]:
            app.steps["worker"].add(InboxDrain)
