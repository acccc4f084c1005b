"""What one websocket client may do: message size, subscriptions, rates, connections per address."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import Counter

from django.conf import settings

ALLOW, REFUSE, CLOSE = "allow", "refuse", "close"


def message_too_large(text_data: str | None, bytes_data: bytes | None) -> str | None:
    """Why a message is refused for its size (bytes on the wire, as uvicorn's --ws-max-size counts)."""
    limit = settings.REALTIME_MAX_MESSAGE_BYTES
    size = len(bytes_data) if text_data is None else len(text_data.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"Message of {size} bytes is over the limit of {limit} bytes"
    return None


def over_subscriptions(channels: dict, channel: str) -> str | None:
    """Why one more subscription is refused; re-subscribing to a channel already held is free."""
    limit = settings.REALTIME_MAX_SUBSCRIPTIONS
    if channel not in channels and len(channels) >= limit:
        return f"over the limit of {limit} subscriptions per connection"
    return None


class Rate:
    """A token bucket: `per_second` on average, `burst` at once; past it REFUSE, and CLOSE for a
    client that sends another `burst` while refused (answering it would queue replies it never reads)."""

    def __init__(self, per_second: float, burst: float):
        self.per_second = per_second
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.at = time.monotonic()

    def take(self) -> str:
        now = time.monotonic()
        # Refused messages cost a token too: a client is admitted again only once it slows down.
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second) - 1
        self.at = now
        if self.tokens >= 0:
            return ALLOW
        if self.tokens >= -self.burst:
            return REFUSE
        return CLOSE


def subscribe_rate() -> Rate:
    """Subscribes and every other protocol message; bursts of twice the subscriptions allowed, as a
    reconnecting page re-subscribes everything at once, and may do it again while the bucket refills."""
    return Rate(settings.REALTIME_SUBSCRIBE_RATE, 2 * settings.REALTIME_MAX_SUBSCRIPTIONS)


def client_event_rate() -> Rate:
    return Rate(settings.REALTIME_CLIENT_EVENT_RATE, settings.REALTIME_CLIENT_EVENT_RATE)


def counted_as(address: str) -> str:
    """What a client address is counted under: an IPv6 client holds a whole /64, so its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a forwarded value that is not an address: counted as it is
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network((ip, 64), strict=False))


class ConnectionsPerAddress:
    """Open websockets per client address in this process; every acquire is released once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open: Counter[str] = Counter()

    def acquire(self, scope: dict) -> tuple[bool, str | None]:
        """(admitted, the address counted, to release later); an unknown address is not counted."""
        client = scope.get("client")
        address = counted_as(str(client[0])) if client else None
        limit = settings.REALTIME_MAX_CONNECTIONS_PER_IP
        if address is None or limit == 0:
            return True, None
        with self._lock:
            if self.open[address] >= limit:
                return False, None
            self.open[address] += 1
        return True, address

    def release(self, address: str | None) -> None:
        if address is None:
            return
        with self._lock:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]


per_address = ConnectionsPerAddress()
