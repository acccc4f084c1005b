"""Realtime: Pusher-protocol websockets on Channels, channel auth, presence and broadcasts.

The public API, importable before Django is set up (each name loads its module on first use):
`broadcast`, `abroadcast`, `register_channel`, and what operations reads, `dropped_messages()`
and `open_connections()`.
"""

import importlib

_PUBLIC = {
    "broadcast": ("realtime.broadcasting", "broadcast"),
    "abroadcast": ("realtime.broadcasting", "abroadcast"),
    "register_channel": ("realtime.authorization", "register_channel"),
    "dropped_messages": ("realtime.drops", "totals"),
    "open_connections": ("realtime.servers", "open_connections"),
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    return getattr(importlib.import_module(module), attribute)
