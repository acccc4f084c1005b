"""Realtime: Pusher-protocol websockets on Channels, channel auth, presence and broadcasts.

The public API, importable before Django is set up:

    from realtime import broadcast, register_channel
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
