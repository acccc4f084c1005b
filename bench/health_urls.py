"""Bench-only URLs: this project's /health and django-health-check's view at /dhc/."""

from django.urls import path
from health_check.views import HealthCheckView

from opsproject.urls import urlpatterns as project_urlpatterns

BASELINE_CHECKS = [
    "health_check.checks.Database",
    "health_check.checks.Cache",
    "health_check.checks.Storage",
]

urlpatterns = [
    *project_urlpatterns,
    path("dhc/", HealthCheckView.as_view(checks=BASELINE_CHECKS)),
]
