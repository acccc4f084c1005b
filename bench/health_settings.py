"""Bench-only settings: opsproject's own, plus django-health-check 4.x on the same server.

For the throughput rows both sides get the same three checks (database, cache, storage), so
the bench compares the frameworks, not the work they are given. BENCH_HEALTH_CHECKS=default
keeps opsproject's own list (every app's checks, as production runs them): the black-hole rows.
"""

import os

from opsproject.settings import *  # noqa: F403
from opsproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "health_check"]
ROOT_URLCONF = "bench.health_urls"
if os.environ.get("BENCH_HEALTH_CHECKS") != "default":
    HEALTH_CHECKS = ["health.checks.database", "health.checks.cache", "health.checks.storage"]
    HEALTH_CRITICAL = ["database", "cache", "storage"]
