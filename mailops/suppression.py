"""The suppression list's rules: who goes on it for which event, and who is on it.

Permanent failures, complaints and unsubscribes suppress at once; temporary failures only
once MAIL_SOFT_BOUNCE_LIMIT of them for the same address fall within MAIL_SOFT_BOUNCE_WINDOW.
Addresses are compared in `address_key` form (case-folded), so `Bob@X` and `bob@x` are one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from mailops.models import MAX_ADDRESS, MailEvent, Suppression, address_key

# The event type that suppresses at once -> the reason recorded.
IMMEDIATE = {
    MailEvent.Type.BOUNCED: Suppression.Reason.BOUNCED,
    MailEvent.Type.COMPLAINED: Suppression.Reason.COMPLAINED,
    MailEvent.Type.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}
# Every event type that may put an address on the list.
CONSIDERED = frozenset({*IMMEDIATE, MailEvent.Type.DEFERRED})


def suppress(
    address: str,
    reason: str,
    source: str,
    *,
    detail: str = "",
    event: MailEvent | None = None,
    created_at=None,
) -> tuple[Suppression, bool]:
    """Put `address` on the list (once); returns the row and whether it is new."""
    key = address_key(address)
    if len(key) > MAX_ADDRESS:
        raise ValueError(f"an address is at most {MAX_ADDRESS} characters")
    existing = Suppression.objects.filter(address_key=key).first()
    if existing is not None:
        return existing, False
    fields = {
        "address": address.strip(),
        "reason": reason,
        "source": source,
        "detail": detail[:2000],
        "event": event,
    }
    if created_at is not None:
        fields["created_at"] = created_at
    try:
        # A savepoint: a concurrent insert of the same address must not break the caller's transaction.
        with transaction.atomic():
            return Suppression.objects.create(**fields), True
    except IntegrityError:
        return Suppression.objects.get(address_key=key), False


def unsuppress(address: str) -> bool:
    """Take `address` off the list; False when it was not on it."""
    deleted, _ = Suppression.objects.filter(address_key=address_key(address)).delete()
    return bool(deleted)


def suppressed_keys(addresses: Iterable[str]) -> set[str]:
    """The `address_key`s among `addresses` that are on the list."""
    keys = {address_key(address) for address in addresses}
    if not keys:
        return set()
    return set(Suppression.objects.filter(address_key__in=keys).values_list("address_key", flat=True))


def is_suppressed(address: str) -> bool:
    return bool(suppressed_keys([address]))


def _suppressible(event: MailEvent) -> bool:
    """The event may suppress, and has a (deliverable) address to suppress."""
    # The key's length, not the address's: lower case may be longer ("İ" is two characters).
    return (
        event.event_type in CONSIDERED
        and bool(event.recipient)
        and len(address_key(event.recipient)) <= MAX_ADDRESS
    )


def _suppression_for(event: MailEvent, key: str, soft_bounces: int) -> Suppression | None:
    """The rule: the row the event puts on the list, or None. `soft_bounces`: the stored temporary
    failures of the address within the window ending at the event (counted for those only)."""
    reason = IMMEDIATE.get(event.event_type)
    detail = event.description or event.mta_response or ""
    if reason is None:
        limit = settings.MAIL_SOFT_BOUNCE_LIMIT
        if event.event_type != MailEvent.Type.DEFERRED or soft_bounces < limit:
            return None
        reason = Suppression.Reason.SOFT_BOUNCED
        detail = f"{limit} temporary failures within {settings.MAIL_SOFT_BOUNCE_WINDOW} s"
    return Suppression(
        address=event.recipient.strip(),
        address_key=key,
        reason=reason,
        source=Suppression.Source.WEBHOOK,
        detail=detail[:2000],
        event=event,
    )


def apply(event: MailEvent) -> bool:
    """Suppress the event's recipient if the event calls for it (a stored event, one by one);
    True when it did (or was)."""
    if not _suppressible(event):
        return False
    deferred = event.event_type == MailEvent.Type.DEFERRED
    row = _suppression_for(event, address_key(event.recipient), _soft_bounce_count(event) if deferred else 0)
    if row is None:
        return False
    # One INSERT that leaves an existing row alone: no read first and no savepoint, inside the
    # caller's transaction (mailops.recording).
    Suppression.objects.bulk_create([row], ignore_conflicts=True)
    return True


def _soft_bounce_count(event: MailEvent) -> int:
    since = event.occurred_at - timedelta(seconds=settings.MAIL_SOFT_BOUNCE_WINDOW)
    return MailEvent.objects.filter(
        recipient_key=address_key(event.recipient),
        event_type=MailEvent.Type.DEFERRED,
        occurred_at__gt=since,
        occurred_at__lte=event.occurred_at,
    ).count()
