"""The Mailgun tracking webhook: Anymail's view, stricter about what it accepts.

Anymail's `post` runs unchanged; only its documented hooks are extended (docs/ARCHITECTURE.md):
`validate_request` verifies the signature first (one answer to any request not correctly
signed, whatever its body; MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS too during a rotation), then
refuses malformed bodies (nesting 32 deep included: the JSON column refuses it) and signatures
older than MAIL_WEBHOOK_MAX_AGE (the MRO order it relies on is pinned by tests/mailops/test_anymail_hooks.py);
`parse_events` makes a hostile body a 400; `dispatch` gives Anymail's refusals as one line and
503 without a signing key. A failing receiver gives a 5xx so Mailgun retries; storing is
idempotent on the event id.
"""

from __future__ import annotations

import json
import logging
import math
import time

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

log = logging.getLogger(__name__)

# A sender's clock may run a little ahead of ours; more than this is not clock skew.
FUTURE_SKEW = 15 * 60
REQUIRED_EVENT_FIELDS = ("event", "timestamp", "recipient")
TEXT_FIELDS = ("event", "recipient")
# The one answer to every request not (correctly) signed, whatever its body.
BAD_SIGNATURE = "Mailgun webhook called with a missing or incorrect signature"
# What Django raises reading a body before its signature is known: a multipart body it cannot
# parse, past DATA_UPLOAD_MAX_MEMORY_SIZE or DATA_UPLOAD_MAX_NUMBER_FIELDS (SuspiciousOperation's
# RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent). Left to Django they are its HTML 400 page.
UNREADABLE = (MultiPartParserError, SuspiciousOperation)
# MariaDB's JSON_VALID (the JSON column's CHECK) refuses objects and lists nested 32 deep; far
# deeper, kombu's encoder runs out of recursion while publishing the task (a 500).
MAX_JSON_DEPTH = 31
MAX_TOKEN = 255  # MailEvent.event_id; Mailgun's tokens are 50 characters
# What a parser may raise on a hostile body: wrong types, nesting too deep, numbers past a datetime
# (OSError: datetime.fromtimestamp past the platform's time_t, an event timestamp of 1e18).
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, RecursionError, OverflowError, OSError)


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def _refuse(reason: str):
    raise AnymailWebhookValidationFailure(reason)


class MailgunTrackingWebhook(MailgunTrackingWebhookView):
    unconfigured = False

    def __init__(self, **kwargs):
        try:
            super().__init__(**kwargs)
        except (AnymailConfigurationError, AttributeError):
            # No signing key (nor API key), or one set to None, which Anymail cannot encode:
            # nothing could be verified, so nothing is accepted.
            self.unconfigured = True

    # As Anymail's own dispatch is: as_view() reads these marks from the class's dispatch.
    @method_decorator(csrf_exempt)
    @method_decorator(login_not_required)
    def dispatch(self, request, *args, **kwargs):
        if self.unconfigured:
            return _text(503, "mail webhook is not configured: set MAILGUN_WEBHOOK_SIGNING_KEY")
        try:
            return super().dispatch(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as error:
            # Anymail appends the cause on further lines; the first says what was wrong.
            reason = str(error).splitlines()[0]
            log.warning("mailgun webhook refused: %s", reason)
            return _text(400, reason)

    def validate_request(self, request) -> None:
        """Runs before Mailgun's own validator (Anymail calls each class's in MRO order).

        The signature first: whatever is wrong before it is verified (no signature block, a
        body that is not JSON, a forged or foreign-keyed signature) gets the one answer
        BAD_SIGNATURE, so an unauthenticated caller learns nothing of the checks past it and
        costs no walk of its payload. Then, signed, the payload's shape and the signature's age.
        """
        # Basic auth (WEBHOOK_SECRET) before: its answer does not depend on the body either.
        AnymailBasicAuthMixin.validate_request(self, request)
        key = self.webhook_signing_key
        if not self._signed_with(key, request):
            previous = settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS
            # During a rotation, the previous key; Mailgun's validator, next, then checks with
            # it again. `webhook_signing_key` is the view's documented option, and each request
            # has its own view instance, so no other request sees this.
            if not previous or not self._signed_with(previous.encode(), request):
                self.webhook_signing_key = key
                _refuse(BAD_SIGNATURE)
        if request.content_type == "application/json":
            body = json.loads(request.body.decode("utf-8"))  # it parsed for the signature
            _check_event_data(body)
            block = body["signature"]
        else:
            block = request.POST
        _check_age(block.get("timestamp"))

    def _signed_with(self, key: bytes, request) -> bool:
        """Whether Mailgun's validator (anymail's public hook) finds the request signed with
        `key`; any failure of it on a hostile body (non-ASCII signature fields, a signature block
        that is not an object, JSON too deep to parse, a body Django cannot or will not read) is a
        no."""
        self.webhook_signing_key = key
        try:
            MailgunTrackingWebhookView.validate_request(self, request)
        except (AnymailWebhookValidationFailure, *MALFORMED, *UNREADABLE):
            return False
        return True

    def parse_events(self, request):
        """Anymail's events, refusing what the parser or the database could not take."""
        try:
            events = super().parse_events(request)
        except (*MALFORMED, AnymailConfigurationError) as error:
            _refuse(f"Mailgun webhook payload is malformed ({type(error).__name__})")
        for event in events:
            if not event.event_id or len(str(event.event_id)) > MAX_TOKEN:
                _refuse("Mailgun webhook event has no usable token to identify it")
            if not all(isinstance(text, str | None) for text in (event.description, event.mta_response)):
                _refuse("Mailgun webhook delivery-status description and message must be text")
        return events


def _check_age(timestamp) -> None:
    try:
        signed_at = float(timestamp)
    except (TypeError, ValueError):
        signed_at = math.nan
    if not math.isfinite(signed_at):  # NaN would pass both age checks, infinity break them
        _refuse("Mailgun webhook signature timestamp is not a number")
    age = time.time() - signed_at
    if age > settings.MAIL_WEBHOOK_MAX_AGE:
        _refuse(
            f"Mailgun webhook signature is {int(age)} s old, over MAIL_WEBHOOK_MAX_AGE "
            f"({settings.MAIL_WEBHOOK_MAX_AGE} s)"
        )
    if age < -FUTURE_SKEW:
        _refuse("Mailgun webhook signature timestamp is in the future")


def _check_event_data(body) -> None:
    data = body.get("event-data")
    if not isinstance(data, dict):
        _refuse("Mailgun webhook payload has no event-data object")
    missing = [name for name in REQUIRED_EVENT_FIELDS if data.get(name) in (None, "")]
    if missing:
        _refuse(f"Mailgun webhook event-data lacks {', '.join(missing)}")
    if not all(isinstance(data[name], str) for name in TEXT_FIELDS):
        _refuse("Mailgun webhook event-data event and recipient must be text")
    if not isinstance(data.get("user-variables", {}), dict):
        _refuse("Mailgun webhook user-variables must be an object")
    if _too_deep(data):
        _refuse(f"Mailgun webhook event-data nests deeper than {MAX_JSON_DEPTH} levels (cannot be stored)")
    try:  # strict JSON in valid UTF-8, as MariaDB's JSON check and utf8mb4 demand
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
    except ValueError:  # NaN or Infinity; UnicodeEncodeError (a lone surrogate) is one too
        _refuse("Mailgun webhook event-data holds NaN, Infinity or a lone surrogate (cannot be stored)")


def _too_deep(data) -> bool:
    """Whether objects and lists nest more than MAX_JSON_DEPTH deep (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False
