"""Keep each pytest-xdist worker's shared resources apart (`make test` runs the suite in parallel).

`make test` loads it with `-p` (through `python -m pytest`, so the repository is importable that
early) in the controller and every worker process. xdist names the worker
(PYTEST_XDIST_WORKER=gw0, gw1, ...) before pytest starts; the hook below runs after pytest-env
has put in its defaults and before pytest-django reads the settings. A run with `-n` but without
this plugin would share Redis and VAR_DIR between workers: use `make test` (TEST_WORKERS=N).
What two workers would otherwise share, and how they are kept apart:

- the test database: pytest-django already suffixes it per worker (test_opsproject_gw0, ...);
  drills' scratch databases and leftovers are named after it, so they follow;
- Redis (keys, Celery's broker queues, channel layer, locks, heartbeats): worker N takes the
  database number after REDIS_URL's by N (`make test`'s /1 gives gw0 /1, gw1 /2, ...);
- VAR_DIR (the filesystem broker, flags, spools): a folder per worker under it.

RabbitMQ vhosts, MariaDB logins, ports and servers that tests start are already their own
(random names, `free_port()`), so workers cannot meet there. Outside xdist this does nothing.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # Redis' default `databases`


def _index(worker: str) -> int:
    return int(worker.removeprefix("gw"))


def redis_url_for(url: str, worker: str) -> str:
    """`url` with its database number moved up by the worker's index (gw0 keeps it)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = base + _index(worker)
    if number >= REDIS_DATABASES:
        raise RuntimeError(f"xdist worker {worker} would need Redis database {number}; use fewer workers")
    return urlunsplit(parts._replace(path=f"/{number}"))


def isolate(environ: MutableMapping[str, str]) -> None:
    worker = environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = redis_url_for(environ["REDIS_URL"], worker)
    if environ.get("VAR_DIR"):
        environ["VAR_DIR"] = os.path.join(environ["VAR_DIR"], worker)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    isolate(os.environ)
