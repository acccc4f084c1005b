"""Generated websocket input for the realtime fuzz: raw RFC 6455 frames and random Pusher messages.

`RawSocket` speaks websocket by hand over asyncio streams, so it can send what no client library
would: reserved opcodes and bits, unmasked frames, oversized control frames, invalid UTF-8 text,
lengths that lie. `PusherNoise` makes what a library would send but a server must not trust:
random JSON, malformed Pusher events, huge frames, random channel names, forged subscriptions.
Both draw from a seeded random.Random, so a failing run repeats.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import random
import struct

from realtime import protocol

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

# Characters Pusher allows in channel names, and some it does not.
NAME_CHARACTERS = "abcXYZ019_-=@,.;"
BAD_CHARACTERS = [" ", "#", "/", "é", "😀", "\x00", "\n", "*", "'", '"', "\\", "%"]
PREFIXES = [
    *("", "private-", "presence-", "private-encrypted-", "Private-", "presence"),
    *("private-ticket.", "presence-ticket.", "private-user."),  # the helpdesk's own channels
]


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True, length=None
) -> bytes:
    """One websocket frame; `length` overrides the declared payload length (a lie)."""
    declared = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)])
    mask_bit = 0x80 if mask else 0
    if declared < 126:
        head += bytes([mask_bit | declared])
    elif declared < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", declared)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", declared)
    if not mask:
        return head + payload
    key = random.randbytes(4)
    return head + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


class RawSocket:
    """A websocket opened by hand: the handshake, then whatever bytes the test writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str) -> RawSocket:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        key = base64.b64encode(random.randbytes(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert answer.startswith(b"HTTP/1.1 101"), answer[:200]
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def drain_for(self, seconds: float) -> bytes:
        """What the server sends within `seconds` (or until it closes)."""
        received = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):  # the server may have reset it first
            await asyncio.wait_for(self.writer.wait_closed(), 2)


class FrameNoise:
    """Random websocket frames, from plausible to broken at the protocol level."""

    def __init__(self, rng: random.Random):
        self.random = rng

    def payload(self) -> bytes:
        choice = self.random.randrange(5)
        if choice == 0:
            return self.random.randbytes(self.random.choice([0, 1, 7, 125, 126, 1000, 70_000]))
        if choice == 1:  # invalid UTF-8 in what claims to be text
            return b"\xff\xfe" + self.random.randbytes(20) + b"\xc3"
        if choice == 2:
            return json.dumps({"event": "pusher:ping", "data": {}}).encode()
        if choice == 3:
            return json.dumps({"event": "pusher:subscribe", "data": {"channel": "private-x"}}).encode()
        return "😀 é \x00".encode() * self.random.randint(0, 50)

    def frame(self) -> bytes:
        opcode = self.random.choice([TEXT, TEXT, BINARY, CLOSE, PING, PONG, 0x0, 0x3, 0x7, 0xB, 0xF])
        payload = self.payload()
        if opcode in (CLOSE, PING, PONG) and self.random.random() < 0.7:
            payload = payload[:125]  # legal control frames, mostly; the rest are too big
        rsv = self.random.choice([0, 0, 0, 1, 2, 4, 7])
        fin = self.random.random() < 0.85
        mask = self.random.random() < 0.9
        length = None
        if self.random.random() < 0.05:  # a declared length that is not the real one
            length = self.random.choice([0, len(payload) + 1, 2**31, 2**63 - 1])
        return frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, length=length)


class PusherNoise:
    """Random Pusher-level messages (valid websocket text frames), subscriptions forged included."""

    def __init__(self, rng: random.Random, app_key: str):
        self.random = rng
        self.app_key = app_key

    def channel(self) -> str:
        prefix = self.random.choice(PREFIXES)
        size = self.random.choice([0, 1, 5, 20, 160, 170])
        name = "".join(self.random.choice(NAME_CHARACTERS) for _ in range(size))
        if self.random.random() < 0.2:
            at = self.random.randint(0, len(name))
            name = name[:at] + self.random.choice(BAD_CHARACTERS) + name[at:]
        return prefix + name

    def forged_auth(self, socket_id: str, channel: str, channel_data: str | None) -> object:
        """An `auth` that is not the valid signature of (socket_id, channel, channel_data)."""
        how = self.random.randrange(10)
        if how == 0:
            return None
        if how == 1:
            return self.random.choice([0, 1.5, [], {}, True, ""])
        if how == 2:
            return f"{self.app_key}:{self.random.randbytes(32).hex()}"
        if how == 3:
            wrong_secret = hmac.new(b"not-the-secret", f"{socket_id}:{channel}".encode(), hashlib.sha256)
            return f"{self.app_key}:{wrong_secret.hexdigest()}"
        if how == 4:  # valid, for another socket
            return protocol.auth_token("1.1", channel, channel_data)
        if how == 5:  # valid, for another channel
            return protocol.auth_token(socket_id, channel + "x", channel_data)
        if how == 6:  # presence: signed without its channel_data; private: signed with some
            if protocol.channel_kind(channel) == protocol.PRESENCE:
                return protocol.auth_token(socket_id, channel)
            return protocol.auth_token(socket_id, channel, json.dumps({"user_id": "1"}))
        if how == 7:  # valid signature under another app key
            return "other-key:" + protocol.auth_token(socket_id, channel, channel_data).split(":", 1)[1]
        if how == 8:
            return protocol.auth_token(socket_id, channel, channel_data).upper()
        # valid for other presence data than what is sent
        return protocol.auth_token(socket_id, channel, json.dumps({"user_id": "someone-else"}))

    def channel_data(self) -> object:
        return self.random.choice(
            [
                None,
                json.dumps({"user_id": str(self.random.randrange(100)), "user_info": {"name": "Eve"}}),
                json.dumps({"user_info": {}}),
                "{not json",
                json.dumps([1, 2]),
                {"user_id": "1"},
            ]
        )

    def subscription(self, socket_id: str) -> tuple[str, dict]:
        """(channel, message) of a subscribe that no valid signature backs."""
        channel = self.channel()
        data: dict = {"channel": channel}
        channel_data = self.channel_data()
        if channel_data is not None:
            data["channel_data"] = channel_data
        auth = self.forged_auth(socket_id, channel, channel_data if isinstance(channel_data, str) else None)
        if auth is not None:
            data["auth"] = auth
        return channel, {"event": "pusher:subscribe", "data": data}

    def message(self) -> str | bytes:
        """Any other frame: random JSON, malformed Pusher events, odd events, a huge frame."""
        choice = self.random.randrange(13)
        if choice == 0:
            return self.random.randbytes(self.random.choice([0, 10, 3000]))
        if choice == 1:
            return json.dumps(self.random.choice([None, 1, "x", [], [1, {"event": 1}], {"data": {}}]))
        if choice == 2:
            return json.dumps({"event": self.random.choice([1, None, [], {}, ""]), "data": {}})
        if choice == 3:  # data as a JSON string holding garbage, or as a list
            return json.dumps(
                {"event": "pusher:subscribe", "data": self.random.choice(["{", "[]", "1", [1]])}
            )
        if choice == 4:
            channel = self.random.choice([None, 5, [], self.channel()])
            return json.dumps({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        if choice == 5:
            events = ["client-typing", "client-", "pusher_internal:member_added", "pusher:error", "x" * 300]
            event = self.random.choice(events)
            return json.dumps({"event": event, "channel": self.channel(), "data": {"text": "hi"}})
        if choice == 6:
            return "{" * self.random.choice([10, 100_000])
        if choice == 7:  # one large frame, below the 16 MiB a websocket message may be
            pad = "x" * self.random.choice([100_000, 2_000_000])
            return json.dumps({"event": "pusher:ping", "data": {"pad": pad}})
        if choice == 9:  # an event that is no string, with data that is (the AttributeError of issue 18)
            event = self.random.choice([5, 1.5, True, [], {}, ["pusher:ping"], {"event": "x"}])
            return json.dumps({"event": event, "data": self.random.choice(["x", "{}", "pusher:", 5, None])})
        if choice == 10:  # nesting deeper than the JSON parser recurses, under the 10 KB limit
            depth = self.random.choice([900, 3000, 5000])
            deep = "[" * depth + "]" * depth
            subscribe = json.dumps({"event": "pusher:subscribe", "data": deep})
            return self.random.choice([deep, '{"event":"client-x","data":' + deep + "}", subscribe])
        odd = [5, 1.5, True, None, [], {}, ["x"], {"a": [1]}, "x" * 300]
        if choice == 11:  # subscription fields of the wrong type
            data = {"channel": self.random.choice([*odd, self.channel()])}
            for field in ("auth", "channel_data"):
                if self.random.random() < 0.7:
                    data[field] = self.random.choice(odd)
            return json.dumps({"event": "pusher:subscribe", "data": data})
        if choice == 12:  # a client event whose channel or data is of the wrong type
            return json.dumps({"event": "client-typing", "channel": self.random.choice(odd), "data": "x"})
        return json.dumps({"event": "pusher:ping", "data": "not an object"})
