"""Mailgun-shaped webhook posts: v3 `event-data` JSON, signed with HMAC-SHA256 like Mailgun does."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request

SIGNING_KEY = "whsec-test-signing-key-0123456789"

# Mailgun event name (and severity) per kind of post the tests make.
KINDS = {
    "delivered": ("delivered", None),
    "permanent_failure": ("failed", "permanent"),
    "temporary_failure": ("failed", "temporary"),
    "complained": ("complained", None),
    "unsubscribed": ("unsubscribed", None),
    "opened": ("opened", None),
}


def signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def payload(
    kind: str,
    recipient: str,
    *,
    key: str = SIGNING_KEY,
    token: str | None = None,
    signed_at: float | None = None,
    message_id: str = "20261129.1@mg.example.com",
    variables: dict | None = None,
    occurred_at: float | None = None,
) -> dict:
    event, severity = KINDS[kind]
    token = token or secrets.token_hex(25)
    timestamp = str(int(signed_at if signed_at is not None else time.time()))
    data = {
        "id": secrets.token_urlsafe(16),
        "event": event,
        "timestamp": occurred_at if occurred_at is not None else time.time(),
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "tags": [],
        "user-variables": variables or {},
        "message": {"headers": {"message-id": message_id, "to": recipient, "subject": "Hello"}},
        "log-level": "info",
    }
    if severity:
        data["severity"] = severity
        data["reason"] = "bounce" if severity == "permanent" else "generic"
        data["log-level"] = "error" if severity == "permanent" else "warn"
        code = 550 if severity == "permanent" else 452
        data["delivery-status"] = {
            "code": code,
            "message": f"{code} mailbox problem",
            "description": "No such user" if severity == "permanent" else "Mailbox full, try later",
            "attempt-no": 1,
        }
    sign = {"timestamp": timestamp, "token": token, "signature": signature(key, timestamp, token)}
    return {"signature": sign, "event-data": data}


def post(url: str, body, *, content_type: str = "application/json", headers: dict | None = None):
    """POST over real HTTP; returns (status, text) whatever the status."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
