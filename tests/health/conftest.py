"""Every health test starts with an empty runner, its own shared-state folder and idle checks."""

from __future__ import annotations

import pytest

from health import runner
from tests.health import support


@pytest.fixture(autouse=True)
def clean_runner(settings, tmp_path):
    settings.HEALTH_STATE_DIR = tmp_path / "health-state"
    settings.HEALTH_TOKEN = "test-health-token-0123456789abcdef"
    # The framework's own checks only: other apps' checks have tests of their own.
    settings.HEALTH_CHECKS = support.INFRA_CHECKS
    settings.HEALTH_CRITICAL = ["database", "cache", "storage"]
    support.reset_checks()
    runner.reset()
    yield
    support.reset_checks()  # lets a hung test check return
    runner.reset()


@pytest.fixture
def black_hole():
    with support.BlackHole() as hole:
        yield hole
