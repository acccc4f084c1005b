"""The few Mailgun API calls Anymail does not make: domain state and the suppression lists.

Sending stays Anymail's. Errors never carry the API key: it travels as basic auth in a header,
and messages name the path and status, not the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import requests
from django.conf import settings

# Mailgun's list names -> our Suppression reasons.
LISTS = ("bounces", "complaints", "unsubscribes")
PAGE_SIZE = 1000  # Mailgun's maximum per page
MAX_PAGES = 10_000  # a runaway `next` link stops here rather than loop forever


class MailgunError(Exception):
    """The API could not be asked, or answered something we cannot use."""


class MailgunAuthError(MailgunError):
    """The API refused the key (401/403)."""


def _session() -> requests.Session:
    if not settings.MAILGUN_API_KEY:
        raise MailgunError("MAILGUN_API_KEY is not set")
    session = requests.Session()
    session.auth = ("api", settings.MAILGUN_API_KEY)
    return session


def _get(session: requests.Session, url: str, what: str, timeout: float, params=None) -> dict:
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as error:
        raise MailgunError(f"{what}: {type(error).__name__} talking to {settings.MAILGUN_API_URL}") from None
    if response.status_code in (401, 403):
        raise MailgunAuthError(f"{what}: HTTP {response.status_code}, the API key was refused")
    if response.status_code == 404:
        raise MailgunError(
            f"{what}: HTTP 404, domain {settings.MAILGUN_SENDER_DOMAIN!r} not found in this region"
        )
    if response.status_code != 200:
        raise MailgunError(f"{what}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise MailgunError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise MailgunError(f"{what}: unexpected answer")
    return body


def domain_state(timeout: float = 5.0) -> str:
    """`GET /v4/domains/{domain}`: the sender domain's state as Mailgun sees it (active,
    unverified, disabled: also when the domain is marked disabled whatever its state)."""
    domain = settings.MAILGUN_SENDER_DOMAIN
    url = f"{settings.MAILGUN_API_URL}/v4/domains/{quote(domain, safe='')}"
    with _session() as session:
        body = _get(session, url, "domain info", timeout)
    info = body.get("domain")
    if not isinstance(info, dict) or not isinstance(info.get("state"), str):
        raise MailgunError("domain info: the answer has no domain state")
    return "disabled" if info.get("is_disabled") else info["state"]


def suppression_list(kind: str, timeout: float = 30.0, page_size: int = PAGE_SIZE) -> Iterator[dict]:
    """Every entry of one suppression list (`bounces`, `complaints`, `unsubscribes`), page by page
    until the first empty one; only `paging.next` links on the configured API host are followed."""
    if kind not in LISTS:
        raise ValueError(f"unknown suppression list {kind!r}")
    domain = quote(settings.MAILGUN_SENDER_DOMAIN, safe="")
    url = f"{settings.MAILGUN_API_URL}/v3/{domain}/{kind}"
    params: dict | None = {"limit": page_size}
    seen: set[str] = set()
    with _session() as session:
        for _page in range(MAX_PAGES):
            body = _get(session, url, f"{kind} list", timeout, params=params)
            items = body.get("items")
            if not isinstance(items, list):
                raise MailgunError(f"{kind} list: the answer has no items")
            if not items:
                return
            yield from (item for item in items if isinstance(item, dict))
            following = (body.get("paging") or {}).get("next")
            if not following or following in seen:
                return
            if not following.startswith(settings.MAILGUN_API_URL + "/"):
                raise MailgunError(
                    f"{kind} list: refusing to follow a paging link off {settings.MAILGUN_API_URL}"
                )
            seen.add(following)
            url, params = following, None
    raise MailgunError(f"{kind} list: more than {MAX_PAGES} pages")
