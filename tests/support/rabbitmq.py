"""A RabbitMQ virtual host of one test's own on the local node, deleted afterwards."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

HOST = "127.0.0.1:5672"


def _ctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@contextmanager
def vhost() -> Iterator[str]:
    """Yield the amqp:// URL of a fresh vhost (guest has all rights on it); parallel runs never share one."""
    name = f"ops_test_{secrets.token_hex(6)}"
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{HOST}/{name}"
    finally:
        _ctl("delete_vhost", name)


def queue_types(url: str) -> dict[str, str]:
    """Queue name -> type (classic, quorum, stream) of the vhost behind `url`."""
    name = url.rsplit("/", 1)[1]
    rows = _ctl("list_queues", "-q", "--no-table-headers", "-p", name, "name", "type").splitlines()
    return dict(row.split("\t")[:2] for row in rows if "\t" in row)


def exchange_types(url: str) -> dict[str, str]:
    """Exchange name -> type (direct, topic, ...) of the vhost behind `url`."""
    name = url.rsplit("/", 1)[1]
    rows = _ctl("list_exchanges", "-q", "--no-table-headers", "-p", name, "name", "type").splitlines()
    return dict(row.split("\t")[:2] for row in rows if "\t" in row)
