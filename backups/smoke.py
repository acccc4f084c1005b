"""The restore's last check: a real user logs in over HTTP and reads one ticket."""

from __future__ import annotations

import requests
from django.conf import settings

from backups.errors import BackupError

TIMEOUT = 15  # seconds per request: the web has just come back from maintenance


def _answer(response: requests.Response, what: str) -> dict:
    if response.status_code != 200:
        raise BackupError(f"{what} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise BackupError(f"{what} answered 200 without JSON") from None


def login() -> str:
    """Log in and read one ticket; returns what was read, or why the smoke login was skipped."""
    username, password = settings.BACKUP_SMOKE_USERNAME, settings.BACKUP_SMOKE_PASSWORD
    if not username:
        return "skipped: BACKUP_SMOKE_USERNAME is not set"
    base = settings.BACKUP_SMOKE_URL.rstrip("/")
    try:
        with requests.Session() as http:
            token = _answer(
                http.post(
                    f"{base}/api/auth/token/",
                    json={"username": username, "password": password},
                    timeout=TIMEOUT,
                ),
                f"login of {username} at {base}/api/auth/token/",
            ).get("token")
            if not token:
                raise BackupError(f"login of {username} answered no token")
            http.headers["Authorization"] = f"Token {token}"
            listing = _answer(http.get(f"{base}/api/tickets/", timeout=TIMEOUT), "GET /api/tickets/")
            tickets = listing.get("results") if isinstance(listing, dict) else None
            if not tickets:
                raise BackupError(f"{username} sees no ticket in the restored database (GET /api/tickets/)")
            number = tickets[0].get("id")
            ticket = _answer(
                http.get(f"{base}/api/tickets/{number}/", timeout=TIMEOUT), f"GET /api/tickets/{number}/"
            )
    except requests.RequestException as error:
        raise BackupError(f"the web at {base} did not answer: {type(error).__name__}") from None
    if ticket.get("id") != number:
        raise BackupError(f"GET /api/tickets/{number}/ answered another ticket")
    return f"{username} logged in at {base} and read ticket {number}"
