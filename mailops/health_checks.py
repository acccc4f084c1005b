"""The `mail` health check: backend, sender address, keys, Mailgun's view of them, bounce rate.

Results `mail:configuration`, `mail:credentials` (mailops.credentials, cached: active pass,
unverified warn, disabled or refused fail) and `mail:bounceRate` (permanent failures per message
sent in 24 h, in percent; warn above MAIL_BOUNCE_RATE_WARN).
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result
from health.runner import current_timeout
from mailops import credentials
from mailops.models import MailEvent, OutboundMessage

MAILGUN_BACKEND = "anymail.backends.mailgun.EmailBackend"
COMPONENT = "mail"


def configuration() -> Result:
    console = settings.EMAIL_BACKEND != MAILGUN_BACKEND and not settings.MAILGUN_API_KEY
    if console and not settings.PRODUCTION:
        # make run and tests: no Mailgun account, mail is printed; that is the intended setup.
        return Result(COMPONENT, PASS, "configuration", output="development: console backend, mail printed")
    problems = []
    if settings.EMAIL_BACKEND != MAILGUN_BACKEND:
        problems.append(f"EMAIL_BACKEND is {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]}, not Mailgun")
    if not settings.MAILGUN_API_KEY:
        problems.append("MAILGUN_API_KEY is not set")
    if not settings.MAILGUN_WEBHOOK_SIGNING_KEY:
        problems.append("MAILGUN_WEBHOOK_SIGNING_KEY is not set")
    domain = (settings.MAILGUN_SENDER_DOMAIN or "").lower()
    address = parseaddr(settings.DEFAULT_FROM_EMAIL or "")[1]
    try:
        validate_email(address)
    except ValidationError:
        problems.append(f"DEFAULT_FROM_EMAIL {settings.DEFAULT_FROM_EMAIL!r} is not a valid address")
    else:
        if address.rpartition("@")[2].lower() != domain:
            problems.append(f"DEFAULT_FROM_EMAIL {address} is not on the sender domain {domain}")
    if problems:
        return Result(COMPONENT, FAIL, "configuration", output="; ".join(problems))
    return Result(COMPONENT, PASS, "configuration", output=f"Mailgun, from {settings.DEFAULT_FROM_EMAIL}")


def credentials_result(*, fresh: bool = False) -> Result:
    verdict = credentials.current(timeout=max(0.5, current_timeout() - 0.5), fresh=fresh)
    return Result(
        COMPONENT,
        verdict.status,
        "credentials",
        observed_value=verdict.state,
        output=f"{verdict.output} (checked {verdict.checked_at})",
        component_id=settings.MAILGUN_SENDER_DOMAIN,
    )


def bounce_rate() -> Result:
    since = timezone.now() - timedelta(hours=24)
    sent = OutboundMessage.objects.filter(sent_at__gte=since).count()
    bounced = MailEvent.objects.filter(event_type=MailEvent.Type.BOUNCED, occurred_at__gte=since).count()
    rate = round(min(100.0, 100.0 * bounced / sent), 2) if sent else 0.0
    status = WARN if rate > settings.MAIL_BOUNCE_RATE_WARN else PASS
    return Result(
        COMPONENT,
        status,
        "bounceRate",
        observed_value=rate,
        observed_unit="percent",
        output=f"{bounced} permanent failure(s) for {sent} message(s) sent in 24 h"
        + (f", above MAIL_BOUNCE_RATE_WARN ({settings.MAIL_BOUNCE_RATE_WARN} %)" if status == WARN else ""),
    )


def _guarded(measurement: str, part) -> Result:
    # One broken part (the database for the bounce rate, say) must not hide the others.
    try:
        return part()
    except Exception as error:
        return Result(COMPONENT, FAIL, measurement, output=f"{type(error).__name__}: {error}")


def results(*, fresh: bool = False) -> list[Result]:
    found = [_guarded("configuration", configuration)]
    if credentials.configured() and settings.EMAIL_BACKEND == MAILGUN_BACKEND:
        found.append(_guarded("credentials", lambda: credentials_result(fresh=fresh)))
    found.append(_guarded("bounceRate", bounce_rate))
    return found


@health_check(COMPONENT)
def mail() -> list[Result]:
    return results()
