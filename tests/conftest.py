"""Refuses an xdist run without tests/support/xdist_worker.py, which keeps its workers apart."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config) -> None:
    parallel = config.getoption("numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER")
    if parallel and not config.pluginmanager.has_plugin("tests.support.xdist_worker"):
        raise pytest.UsageError(
            "pytest -n needs -p tests.support.xdist_worker (through python -m pytest), or its workers "
            "share Redis and VAR_DIR: run `make test` (TEST_WORKERS=N)"
        )
