"""Realtime: Pusher-protocol websockets on Channels, channel auth, presence and broadcasts.

The public API, importable before Django is set up:

    from realtime import broadcast, register_channel

and what operations reads: `dropped_messages()`, `open_connections()`.
"""


def broadcast(channel, event, data, exclude_socket_id=None):
    """Send an event to a channel's subscribers; see realtime.broadcasting.broadcast."""
    from realtime.broadcasting import broadcast as _broadcast

    return _broadcast(channel, event, data, exclude_socket_id)


async def abroadcast(channel, event, data, exclude_socket_id=None):
    from realtime.broadcasting import abroadcast as _abroadcast

    return await _abroadcast(channel, event, data, exclude_socket_id)


def register_channel(pattern, authorizer=None):
    """Register who may follow matching channels; see realtime.authorization.register_channel."""
    from realtime.authorization import register_channel as _register_channel

    return _register_channel(pattern, authorizer)


def dropped_messages() -> dict[str, int]:
    """Messages dropped to bound memory, by reason, summed over every process (realtime.drops)."""
    from realtime.drops import totals

    return totals()


def open_connections() -> int:
    """Websockets open on every live realtime server, as of their last heartbeats."""
    from realtime.servers import open_connections as _open_connections

    return _open_connections()
