"""The queueops app's configuration."""

from django.apps import AppConfig


class QueueopsConfig(AppConfig):
    name = "queueops"
    verbose_name = "Queue operations"
