"""The broadcast API: send an event to a channel's subscribers in every websocket process."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.core.serializers.json import DjangoJSONEncoder

from opsproject.logs import current_request_id
from realtime import fanout, protocol
from realtime.store import get_store


class BroadcastError(Exception):
    """The event could not be handed to the channel layer (Redis down, say); nothing was sent."""


async def abroadcast(channel: str, event: str, data: object, exclude_socket_id: str | None = None) -> int:
    """Send `event` with `data` (anything JSON-serialisable) on `channel`; returns its event_id."""
    if not protocol.valid_channel_name(channel):
        raise ValueError(f"invalid channel name {channel!r}")
    if not isinstance(event, str) or not event or event.startswith(("pusher:", "pusher_internal:")):
        raise ValueError(f"invalid event name {event!r}")
    if exclude_socket_id is not None and not protocol.valid_socket_id(exclude_socket_id):
        raise ValueError(f"invalid socket id {exclude_socket_id!r}")
    template = protocol.event_frame_template(event, channel, data, DjangoJSONEncoder)
    try:
        event_id, frame = await get_store().record(channel, template)
        message = {"type": "realtime.frame", "channel": channel, "frame": frame, "exclude": exclude_socket_id}
        # The websocket processes log it on delivery: a request's trail reaches its events.
        if request_id := current_request_id():
            message["request_id"] = request_id
        await fanout.send(message)
    except Exception as exc:
        raise BroadcastError(f"broadcasting {event!r} on {channel!r} failed: {exc!r}") from exc
    return event_id


def broadcast(channel: str, event: str, data: object, exclude_socket_id: str | None = None) -> int:
    """Synchronous `abroadcast`, for views, signal receivers and Celery tasks."""
    return async_to_sync(abroadcast)(channel, event, data, exclude_socket_id)


def history(channel: str, after: int, limit: int = 1000) -> list[dict]:
    """Events on `channel` with event_id > `after` still kept, oldest first, decoded."""
    messages = [json.loads(text) for text in async_to_sync(get_store().history)(channel, after, limit)]
    return [
        {**{k: m[k] for k in ("event_id", "event", "channel")}, "data": json.loads(m["data"])}
        for m in messages
    ]
