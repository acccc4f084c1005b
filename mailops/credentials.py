"""Whether Mailgun accepts our key for the sender domain, asked at most once per MAIL_CREDENTIAL_TTL.

`GET /v4/domains/{domain}` is cached (its key hashes URL, domain and key, so a rotated key is asked
afresh; unreachable answers are not cached); job `mailops.refresh_credentials` refreshes it hourly.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from health.results import FAIL, PASS, WARN
from mailops import mailgun

ALERT_KEY = "mail.credentials"


@dataclass(frozen=True)
class Verdict:
    status: str  # pass / warn / fail
    state: str  # active, unverified, disabled, unauthorized, unreachable, unconfigured
    output: str
    checked_at: str


def configured() -> bool:
    return bool(settings.MAILGUN_API_KEY and settings.MAILGUN_SENDER_DOMAIN)


def _cache_key() -> str:
    identity = f"{settings.MAILGUN_API_URL}|{settings.MAILGUN_SENDER_DOMAIN}|{settings.MAILGUN_API_KEY}"
    return "mailops:credentials:" + hashlib.sha256(identity.encode()).hexdigest()[:24]


def _verdict(status: str, state: str, output: str) -> Verdict:
    return Verdict(status, state, output, timezone.now().isoformat(timespec="seconds"))


def fetch(timeout: float = 5.0) -> tuple[Verdict, bool]:
    """Ask Mailgun now; returns the verdict and whether it is definite enough to cache."""
    domain = settings.MAILGUN_SENDER_DOMAIN
    try:
        state = mailgun.domain_state(timeout=timeout)
    except mailgun.MailgunAuthError:
        return _verdict(
            FAIL, "unauthorized", "Mailgun refused the API key (401): rotate MAILGUN_API_KEY"
        ), True
    except mailgun.MailgunError as error:
        return _verdict(FAIL, "unreachable", str(error)), False
    if state == "disabled":
        return _verdict(FAIL, "disabled", f"domain {domain} is disabled at Mailgun: nothing is sent"), True
    if state == "active":
        return _verdict(PASS, "active", f"domain {domain} is active"), True
    if state == "unverified":
        return _verdict(WARN, "unverified", f"domain {domain} is unverified: check its DNS records"), True
    return _verdict(WARN, state, f"domain {domain} is in state {state!r}"), True


def refresh(timeout: float = 5.0) -> Verdict:
    verdict, cacheable = fetch(timeout)
    if cacheable:
        cache.set(_cache_key(), asdict(verdict), settings.MAIL_CREDENTIAL_TTL)
    else:
        cache.delete(_cache_key())
    return verdict


def current(timeout: float = 5.0, *, fresh: bool = False) -> Verdict:
    """The cached verdict while it is younger than MAIL_CREDENTIAL_TTL, else a new one."""
    if not fresh:
        cached = cache.get(_cache_key())
        if cached:
            return Verdict(**cached)
    return refresh(timeout)


def refresh_and_alert() -> Verdict:
    """The periodic job: refresh the cache; open or resolve the `mail.credentials` alert."""
    from alerts.notices import raise_alert, resolve_alert

    if not configured():
        return _verdict(PASS, "unconfigured", "MAILGUN_API_KEY not set: console backend")
    verdict = refresh()
    if verdict.status == FAIL:
        raise_alert(
            ALERT_KEY, f"Mailgun credentials failing: {verdict.state}", verdict.output, source="mailops"
        )
    else:
        resolve_alert(ALERT_KEY)
    return verdict
