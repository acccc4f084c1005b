"""The Pusher Channels protocol (version 7): names, frames, error codes and auth signatures.

https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

from django.conf import settings

from opsproject.secret_values import current_and_previous, matches

# Close codes (and `pusher:error` codes). 4000-4099: do not reconnect; 4100-4199: reconnect after
# a back-off; 4200-4299: reconnect at once.
UNKNOWN_APP_KEY = 4001
UNSUPPORTED_PROTOCOL = 4007
UNAUTHORIZED = 4009  # also: over a quota of the connection (message size, subscriptions)
OVER_CAPACITY = 4100
PLEASE_RECONNECT = 4200
PONG_TIMEOUT = 4201
CLIENT_EVENTS_DISABLED = 4301
RATE_LIMITED = 4301
# What Laravel Reverb (the server this one replaces) answers to a message it cannot read.
INVALID_MESSAGE = 4200

SUPPORTED_PROTOCOLS = range(5, 8)

_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_\-=@,.;]{1,164}")
_VERSION = re.compile(r"[0-9]{1,3}")
_SOCKET_ID = re.compile(r"\d{1,20}\.\d{1,20}")

PUBLIC, PRIVATE, PRESENCE = "public", "private", "presence"


def supported_protocol(version: str) -> bool:
    """Whether the `protocol` query value names a version served here."""
    # ASCII digits only, and few: str.isdigit() admits "²", which int() refuses, and int()
    # refuses strings past 4300 digits.
    return _VERSION.fullmatch(version) is not None and int(version) in SUPPORTED_PROTOCOLS


def valid_channel_name(name: object) -> bool:
    return isinstance(name, str) and _CHANNEL_NAME.fullmatch(name) is not None


def valid_socket_id(socket_id: object) -> bool:
    return isinstance(socket_id, str) and _SOCKET_ID.fullmatch(socket_id) is not None


def channel_kind(name: str) -> str:
    if name.startswith("presence-"):
        return PRESENCE
    if name.startswith("private-"):
        return PRIVATE
    return PUBLIC


class InvalidMessage(ValueError):
    """A client message that is not a Pusher message: the text says what is wrong with it."""


def parse_message(text: str | None) -> tuple[str, object, dict]:
    """(event, data, message) of a client's text frame, whatever its shape or depth; InvalidMessage
    for anything else. `data` of a `pusher:` event is an object (pusher-js may send it JSON-encoded)."""
    if text is None:
        raise InvalidMessage("binary frames are not part of the protocol")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidMessage("not JSON") from None
    if not isinstance(message, dict):
        raise InvalidMessage("not a JSON object")
    event = message.get("event")
    if not isinstance(event, str) or not event:
        raise InvalidMessage("event must be a non-empty string")
    if not isinstance(message.get("channel"), str | None):
        raise InvalidMessage("channel must be a string")
    data = message.get("data")
    if event.startswith("pusher:"):
        if isinstance(data, str) and data:
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                raise InvalidMessage("data is not JSON") from None
        data = data or {}
        if not isinstance(data, dict):
            raise InvalidMessage("data of a pusher: event must be an object")
    return event, data, message


def frame(event: str, data: object = None, channel: str | None = None, **extra: object) -> str:
    """One message on the wire. `data` travels JSON-encoded inside the JSON, as pusher-js expects."""
    message: dict[str, object] = {"event": event}
    if channel is not None:
        message["channel"] = channel
    message["data"] = data if isinstance(data, str) else json.dumps({} if data is None else data)
    message.update(extra)
    return json.dumps(message, separators=(",", ":"))


def error_frame(code: int | None, message: str) -> str:
    return frame("pusher:error", {"code": code, "message": message})


def event_frame_template(event: str, channel: str, data: object, encoder=None) -> list[str]:
    """A broadcast frame cut where its event_id goes (in the frame, and in an object payload, which
    is all pusher-js hands listeners), for the history store to fill in."""
    marker = secrets.randbits(96) | (1 << 96)  # a number no payload will hold by chance
    payload = {**data, "event_id": marker} if isinstance(data, dict) else data
    text = frame(event, json.dumps(payload, cls=encoder), channel, event_id=marker)
    return text.split(str(marker))


def fill_event_id(template: list[str], event_id: int) -> str:
    return str(int(event_id)).join(template)


def signature(socket_id: str, channel: str, channel_data: str | None = None, *, secret: str = "") -> str:
    """The HMAC-SHA256 hex of a subscription, with `secret` (default REALTIME_APP_SECRET)."""
    message = f"{socket_id}:{channel}" if channel_data is None else f"{socket_id}:{channel}:{channel_data}"
    key = (secret or settings.REALTIME_APP_SECRET).encode()
    # A client's channel_data may hold lone surrogates (valid JSON escapes, not valid UTF-8):
    # such data signs to a value no authorization matches, rather than raising.
    return hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def auth_token(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    """The `auth` value of a subscription: `<app key>:<HMAC-SHA256 hex>`."""
    return f"{settings.REALTIME_APP_KEY}:{signature(socket_id, channel, channel_data)}"


def verify_auth(auth: object, socket_id: str, channel: str, channel_data: str | None = None) -> bool:
    """Whether `auth` was signed with REALTIME_APP_SECRET or, during a rotation, its _PREVIOUS value."""
    if not isinstance(auth, str):
        return False
    secrets_ = current_and_previous(settings.REALTIME_APP_SECRET, settings.REALTIME_APP_SECRET_PREVIOUS)
    valid = [
        f"{settings.REALTIME_APP_KEY}:{signature(socket_id, channel, channel_data, secret=secret)}"
        for secret in secrets_
    ]
    return matches(auth, *valid)
