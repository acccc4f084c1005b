"""The mailops app's configuration."""

from django.apps import AppConfig


class MailopsConfig(AppConfig):
    name = "mailops"
    verbose_name = "Mail operations"
