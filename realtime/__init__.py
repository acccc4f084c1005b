"""Realtime: Pusher-protocol websockets on Channels, channel auth, presence and broadcasts."""
