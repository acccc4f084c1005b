"""Generated Mailgun webhook posts: random, mutated, forged, stale and replayed, from one seed.

Every `Post` carries what the webhook must do with it:

- REFUSE: unsigned, forged, stale or not a payload at all: a 4xx and nothing stored;
- STORE: the first delivery of a valid signed event: 200 and exactly one new event;
- REPLAY: a valid event delivered again, byte for byte: 200 and nothing new;
- SIGNED: correctly signed, but its event data mangled (fields deleted, types changed, huge or
  odd unicode values), or a token already used: anything below 500, and at most one new event,
  only under its own unused token. Mailgun signs the timestamp and token, not the body, so such a
  post is as trusted as a real one; it must only never crash the webhook or be stored twice.

All choices come from one `random.Random(seed)`, so a failure is reproduced by its seed and
case number (the generated bodies hold the current time, the only thing a rerun changes).
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from tests.mailops.signing import KINDS, SIGNING_KEY, payload, signature

REFUSE, STORE, REPLAY, SIGNED = "refuse", "store", "replay", "signed"

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [
    JSON,
    FORM,
    "text/plain",
    "application/octet-stream",
    "multipart/form-data; boundary=fuzz",
    "application/json; charset=latin-1",
    None,
]
# Odd text: NUL, a lone surrogate (legal in JSON, not in UTF-8), RTL override, emoji, combining marks.
ODD_TEXT = ["\x00", "\ud800", "\u202e", "😀", "e\u0301", "\uffff", "漢字", "'; DROP TABLE x; --", "\\", "%00"]
MAX_AGE = 24 * 3600  # settings.MAIL_WEBHOOK_MAX_AGE's default, which the test's server runs with


@dataclass
class Post:
    number: int
    kind: str  # which generator made it, for the failure message
    expect: str
    body: bytes
    content_type: str | None
    token: str | None = None  # the event id a STORE or SIGNED post may store

    def describe(self) -> str:
        return f"case {self.number} ({self.kind}, {self.content_type}): {self.body[:300]!r}"


def encode(document) -> bytes:
    # allow_nan: NaN and Infinity are what a careless sender writes, and Python's json reads them.
    return json.dumps(document, allow_nan=True).encode()  # ASCII: lone surrogates go as \uXXXX escapes


class MailgunFuzzer:
    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.delivered: list[Post] = []  # valid events already sent once, for replays
        self.number = 0

    # --- the building blocks -------------------------------------------------------------

    def token(self) -> str:
        return self.random.randbytes(25).hex()

    def text(self, longest: int = 40) -> str:
        pieces = []
        for _ in range(self.random.randint(0, longest)):
            roll = self.random.random()
            if roll < 0.15:
                pieces.append(self.random.choice(ODD_TEXT))
            elif roll < 0.3:
                pieces.append(chr(self.random.randint(0x80, 0x2FFFF)))
            else:
                pieces.append(chr(self.random.randint(0x20, 0x7E)))
        return "".join(pieces)

    def scalar(self):
        choice = self.random.randrange(9)
        if choice == 0:
            return None
        if choice == 1:
            return self.random.choice([True, False])
        if choice == 2:
            return self.random.randint(-(2**70), 2**70)
        if choice == 3:
            return self.random.choice([0.0, -1.5, 1e308, float("nan"), float("inf"), -float("inf")])
        if choice == 4:
            return 10 ** self.random.randint(309, 4000)  # past a float's range
        return self.text()

    def value(self, depth: int = 0):
        if depth > 3 or self.random.random() < 0.5:
            return self.scalar()
        if self.random.random() < 0.5:
            return [self.value(depth + 1) for _ in range(self.random.randint(0, 4))]
        return {self.text(12): self.value(depth + 1) for _ in range(self.random.randint(0, 4))}

    def huge(self) -> str:
        """A long string; one in ten is past Django's 2.5 MB upload limit (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
        if self.random.random() < 0.1:
            return "x" * 3_000_000
        return self.random.choice(["x", "é", "😀", "\x00"]) * self.random.choice([1_000, 20_000, 100_000])

    def signed_event(self, odd_recipient: bool = False) -> dict:
        """A real Mailgun payload, freshly signed; `odd_recipient` makes its address odd text."""
        kind = self.random.choice(sorted(KINDS))
        recipient = f"user{self.random.randrange(10**6)}@example.com"
        if odd_recipient:
            recipient = f"{self.text(8)}@example.com"
        return payload(kind, recipient, token=self.token())

    @staticmethod
    def sign(document: dict, token: str, timestamp: str, key: str = SIGNING_KEY) -> dict:
        document["signature"] = {
            "timestamp": timestamp,
            "token": token,
            "signature": signature(key, timestamp, token),
        }
        return document

    def post(self, kind: str, expect: str, body: bytes, content_type: str | None = JSON, token=None) -> Post:
        self.number += 1
        return Post(self.number, kind, expect, body, content_type, token)

    # --- mutations of a real payload's event data ------------------------------------------

    def paths(self, node, prefix=()) -> list[tuple]:
        found = [prefix] if prefix else []
        if isinstance(node, dict):
            for key, child in node.items():
                found += self.paths(child, (*prefix, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                found += self.paths(child, (*prefix, index))
        return found

    def mutate(self, data: dict) -> None:
        """One change at a random place in `data`: delete, retype, enlarge, or garble it."""
        paths = self.paths(data)
        if not paths:
            data[self.text(10)] = self.value()
            return
        path = self.random.choice(paths)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        operation = self.random.choices(["delete", "retype", "huge", "text", "scalar"], [5, 5, 1, 5, 4])[0]
        if operation == "delete" and isinstance(parent, dict):
            del parent[last]
        elif operation == "retype":
            parent[last] = self.value()
        elif operation == "huge":
            parent[last] = self.huge()
        elif operation == "text":
            parent[last] = self.text(60)
        else:
            parent[last] = self.scalar()

    # --- the generators, one per kind of post ----------------------------------------------

    def random_bytes(self) -> Post:
        size = self.random.choice([0, 1, 16, 300, 5000, 70_000])
        body = self.random.randbytes(size)
        return self.post("random bytes", REFUSE, body, self.random.choice(CONTENT_TYPES))

    def random_json(self) -> Post:
        if self.random.random() < 0.5:
            document = self.value()
        else:  # shaped like a post, made of noise
            document = {"signature": self.value(), "event-data": self.value()}
            if self.random.random() < 0.5:
                document["signature"] = {name: self.scalar() for name in ("timestamp", "token", "signature")}
        return self.post("random json", REFUSE, encode(document), self.random.choice([JSON, FORM]))

    def deep_nesting(self) -> Post:
        nested = b"[" * (depth := self.random.choice([1000, 100_000])) + b"]" * depth
        body = nested if self.random.random() < 0.5 else b'{"signature": ' + nested + b"}"
        return self.post("deep nesting", REFUSE, body)

    def forged(self) -> Post:
        document = self.signed_event()
        block = document["signature"]
        how = self.random.randrange(9)
        if how == 0:  # one hex digit changed
            at, old = self.random.randrange(64), block["signature"]
            digit = self.random.choice("0123456789abcdef".replace(old[at], ""))
            block["signature"] = old[:at] + digit + old[at + 1 :]
        elif how == 1:
            self.sign(document, block["token"], block["timestamp"], key="not-" + SIGNING_KEY)
        elif how == 2:  # signed, then the token swapped (a stolen signature on a new event)
            block["token"] = self.token()
        elif how == 3:  # signed, then the timestamp moved (a stale post made to look fresh)
            block["timestamp"] = str(int(block["timestamp"]) + self.random.randint(1, 10**6))
        elif how == 4:
            del block[self.random.choice(["signature", "token", "timestamp"])]
        elif how == 5:
            block[self.random.choice(["signature", "token", "timestamp"])] = self.value()
        elif how == 6:
            block["signature"] = block["signature"].upper()
        elif how == 7:
            del document["signature"]
        else:
            document["signature"] = self.value()
        return self.post("forged signature", REFUSE, encode(document))

    def stale(self) -> Post:
        now = time.time()
        choice = self.random.randrange(4)
        if choice == 0:
            timestamp = str(int(now - MAX_AGE - self.random.randint(1, 10**8)))
        elif choice == 1:
            timestamp = str(int(now + 15 * 60 + self.random.randint(60, 10**8)))
        elif choice == 2:
            timestamp = self.random.choice(["nan", "NaN", "inf", "-inf", "1e400", "-1e400", "0", "-5"])
        else:
            timestamp = self.random.choice(["", " ", "yesterday", "0x10", "1_0", "12.5.3"])
        document = self.sign(self.signed_event(), self.token(), timestamp)
        return self.post("stale or odd timestamp", REFUSE, encode(document))

    def mangled(self) -> Post:
        document = self.signed_event(odd_recipient=self.random.random() < 0.3)
        for _ in range(self.random.randint(1, 3)):
            self.mutate(document["event-data"])
        token = document["signature"]["token"]
        return self.post("signed, event data mangled", SIGNED, encode(document), token=token)

    def mangled_form(self) -> Post:
        """A legacy (pre-2018) form post, signed, with fields dropped, added or garbled."""
        document = self.signed_event(odd_recipient=self.random.random() < 0.3)
        data = document["event-data"]
        fields = {
            "event": {"failed": "bounced"}.get(data["event"], data["event"]),
            "recipient": data["recipient"],
            "Message-Id": "<20261129.1@mg.example.com>",
            "code": "550",
            "error": "No such user",
            **document["signature"],
        }
        for _ in range(self.random.randint(0, 3)):
            name = self.random.choice([*fields, self.text(8)])
            fields[name] = self.text(60) if self.random.random() < 0.8 else self.huge()[:5000]
        fields.update(document["signature"])  # the signature block stays valid
        if self.random.random() < 0.3:
            fields.pop(self.random.choice(["event", "recipient"]), None)
        body = urllib.parse.urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
        token = document["signature"]["token"]
        return self.post("signed legacy form, mangled", SIGNED, body, FORM, token=token)

    def first_delivery(self) -> Post:
        document = self.signed_event()
        made = self.post("valid event", STORE, encode(document), token=document["signature"]["token"])
        self.delivered.append(made)
        return made

    def replay(self) -> Post:
        if not self.delivered:
            return self.first_delivery()
        original = self.random.choice(self.delivered)
        if self.random.random() < 0.7:
            return self.post("replay", REPLAY, original.body, token=original.token)
        document = json.loads(original.body)  # the same token, its event data changed
        self.mutate(document["event-data"])
        return self.post("replay, event data changed", SIGNED, encode(document), token=original.token)

    # weights: the kinds of post, in proportion
    MIX = (
        ("random_bytes", 12),
        ("random_json", 14),
        ("deep_nesting", 1),
        ("forged", 15),
        ("stale", 10),
        ("mangled", 24),
        ("mangled_form", 6),
        ("first_delivery", 8),
        ("replay", 10),
    )

    def posts(self, count: int) -> Iterator[Post]:
        names = [name for name, _ in self.MIX]
        weights = [weight for _, weight in self.MIX]
        for _ in range(count):
            yield getattr(self, self.random.choices(names, weights)[0])()
