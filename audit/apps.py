"""The audit app's configuration."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from audit.groups import create_missing_groups

        # Every app's post_migrate: the permissions of the apps after audit exist only later.
        post_migrate.connect(create_missing_groups, dispatch_uid="audit.create_missing_groups")
