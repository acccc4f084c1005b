"""Bench-only settings: opsproject's own, plus django-health-check 4.x on the same server.

Both sides get the same three checks (database, cache, storage), so the bench compares the
frameworks, not the work they are given.
"""

from opsproject.settings import *  # noqa: F403
from opsproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "health_check"]
ROOT_URLCONF = "bench.health_urls"
HEALTH_CHECKS = ["health.checks.database", "health.checks.cache", "health.checks.storage"]
HEALTH_CRITICAL = ["database", "cache", "storage"]
