"""The health app's configuration: checks HEALTH_CHECKS at start-up, not at the first probe."""

from django.apps import AppConfig
from django.core import checks


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        checks.register(check_health_settings)


def check_health_settings(app_configs=None, **kwargs):
    """Every HEALTH_CHECKS path imports and is a check; every HEALTH_CRITICAL name is a component."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from health.registry import configured_checks

    try:
        components = {check.component for check in configured_checks()}
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="health.E001")]
    return [
        checks.Warning(
            f"HEALTH_CRITICAL names {name!r}, which no check in HEALTH_CHECKS reports",
            id="health.W001",
        )
        for name in settings.HEALTH_CRITICAL
        if name not in components
    ]
