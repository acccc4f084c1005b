"""The suppression list's rules: who goes on it for which event, and who is on it.

Permanent failures, complaints and unsubscribes suppress at once; temporary ones at
MAIL_SOFT_BOUNCE_LIMIT within MAIL_SOFT_BOUNCE_WINDOW. Addresses compare case-folded (`address_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings

from mailops.models import MAX_ADDRESS, MailEvent, Suppression, address_key

# The event type that suppresses at once -> the reason recorded.
IMMEDIATE = {
    MailEvent.Type.BOUNCED: Suppression.Reason.BOUNCED,
    MailEvent.Type.COMPLAINED: Suppression.Reason.COMPLAINED,
    MailEvent.Type.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}
# Every event type that may put an address on the list.
CONSIDERED = frozenset({*IMMEDIATE, MailEvent.Type.DEFERRED})


def suppress(address: str, reason: str, source: str, *, detail: str = "") -> tuple[Suppression, bool]:
    """Put `address` on the list (once); returns the row and whether it is new."""
    key = address_key(address)
    if len(key) > MAX_ADDRESS:
        raise ValueError(f"an address is at most {MAX_ADDRESS} characters")
    # get_or_create's INSERT is in a savepoint: a concurrent insert of the same address finds its
    # row instead of breaking the caller's transaction.
    fields = {"address": address.strip(), "reason": reason, "source": source, "detail": detail[:2000]}
    return Suppression.objects.get_or_create(address_key=key, defaults=fields)


def unsuppress(address: str) -> bool:
    """Take `address` off the list; False when it was not on it."""
    deleted, _ = Suppression.objects.filter(address_key=address_key(address)).delete()
    return bool(deleted)


def suppressed_keys(addresses: Iterable[str]) -> set[str]:
    """The `address_key`s among `addresses` that are on the list."""
    keys = {address_key(address) for address in addresses}
    return set(Suppression.objects.filter(address_key__in=keys).values_list("address_key", flat=True))


def apply(event: MailEvent) -> bool:
    """Suppress the event's recipient if the event calls for it (a stored event, one by one);
    True when it did (or was)."""
    key = address_key(event.recipient or "")
    # The key's length, not the address's: lower case may be longer ("İ" is two characters).
    if event.event_type not in CONSIDERED or not key or len(key) > MAX_ADDRESS:
        return False
    reason = IMMEDIATE.get(event.event_type)
    detail = event.description or event.mta_response or ""
    if reason is None:  # a temporary failure: suppress once the limit falls within the window
        limit, window = settings.MAIL_SOFT_BOUNCE_LIMIT, settings.MAIL_SOFT_BOUNCE_WINDOW
        soft_bounces = MailEvent.objects.filter(
            recipient_key=key,
            event_type=MailEvent.Type.DEFERRED,
            occurred_at__gt=event.occurred_at - timedelta(seconds=window),
            occurred_at__lte=event.occurred_at,
        ).count()
        if soft_bounces < limit:
            return False
        reason, detail = Suppression.Reason.SOFT_BOUNCED, f"{limit} temporary failures within {window} s"
    row = Suppression(
        address=event.recipient.strip(),
        address_key=key,
        reason=reason,
        source=Suppression.Source.WEBHOOK,
        detail=detail[:2000],
        event=event,
    )
    # One INSERT that leaves an existing row alone: no read first and no savepoint, inside the
    # caller's transaction (mailops.recording).
    Suppression.objects.bulk_create([row], ignore_conflicts=True)
    return True
