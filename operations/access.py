"""Who may scrape /metrics: a bearer token (METRICS_TOKEN) or a client address on the allow-list."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

from opsproject.secret_values import matches


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None  # refused by the system check (operations.checks); never allows anything


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(network for network in map(_network, entries) if network is not None)


def bad_allowed_ips() -> list[str]:
    return [entry for entry in settings.METRICS_ALLOWED_IPS if _network(entry) is None]


def token_matches(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    # METRICS_TOKEN_PREVIOUS too while a rotation lasts, so scrapers can move over one by one.
    if not settings.METRICS_TOKEN or scheme.lower() != "bearer":
        return False
    return matches(token.strip(), settings.METRICS_TOKEN, settings.METRICS_TOKEN_PREVIOUS)


def address_allowed(remote_addr: str | None) -> bool:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wrote unless a trusted proxy set it.
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def may_scrape(request) -> bool:
    return token_matches(request.headers.get("Authorization", "")) or address_allowed(
        request.META.get("REMOTE_ADDR")
    )
