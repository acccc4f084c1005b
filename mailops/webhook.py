"""The Mailgun tracking webhook: Anymail's view, stricter about what it accepts.

Anymail verifies the signature (HMAC-SHA256 of timestamp + token with the webhook signing key)
and sends each event to `anymail.signals.tracking`, where `mailops.receivers` stores it. On top:

- a signature older than MAIL_WEBHOOK_MAX_AGE (or from the future) is refused: Mailgun stops
  retrying after 8 h, so anything older is a replay;
- a post missing the fields we store, or whose body is not what it claims, gets a one-line 400
  instead of the 500 Anymail's parser would raise; so does event data the database's JSON
  column would refuse (NaN, Infinity, a lone UTF-16 surrogate), which Python's parser lets by;
- without a signing key the webhook answers 503 rather than crash on every request.

A receiver that fails still gives a 5xx, so Mailgun retries (recording is idempotent).
"""

from __future__ import annotations

import json
import logging
import math
import time

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.conf import settings
from django.http import HttpResponse

log = logging.getLogger(__name__)

# A sender's clock may run a little ahead of ours; more than this is not clock skew.
FUTURE_SKEW = 15 * 60
REQUIRED_EVENT_FIELDS = ("event", "timestamp", "recipient")
TEXT_FIELDS = ("event", "recipient")
MAX_TOKEN = 255  # MailEvent.event_id; Mailgun's tokens are 50 characters


def _storable(data) -> bool:
    """Whether `data` is strict JSON in valid UTF-8, as MariaDB's JSON check and utf8mb4 demand."""
    try:
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
    except ValueError:  # NaN or Infinity; UnicodeEncodeError (a lone surrogate) is one too
        return False
    return True


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


class MailgunTrackingWebhook(MailgunTrackingWebhookView):
    unconfigured = False

    def __init__(self, **kwargs):
        try:
            super().__init__(**kwargs)
        except (AnymailConfigurationError, AttributeError):
            # No signing key (nor API key), or one set to None, which Anymail cannot encode:
            # nothing could be verified, so nothing is accepted.
            self.unconfigured = True

    def post(self, request, *args, **kwargs):
        if self.unconfigured:
            return _text(503, "mail webhook is not configured: set MAILGUN_WEBHOOK_SIGNING_KEY")
        try:
            try:
                self.run_validators(request)
            except (TypeError, AttributeError, ValueError, RecursionError):  # wrong shape, or nested too deep
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook called with invalid payload format"
                ) from None
            self.check_age(request)
            events = self.parse_events(request)
        except AnymailWebhookValidationFailure as error:
            # Anymail appends the cause on further lines; the first says what was wrong.
            reason = str(error).splitlines()[0]
            log.warning("mailgun webhook refused: %s", reason)
            return _text(400, reason)
        for event in events:
            self.signal.send(sender=self.__class__, event=event, esp_name=self.esp_name)
        return HttpResponse()

    def run_validators(self, request) -> None:
        """Anymail's checks with the current signing key, then with the previous one during a rotation.

        `webhook_signing_key` is the view's documented constructor option; each request gets its
        own view instance, so setting it here touches no other request.
        """
        try:
            super().run_validators(request)
        except AnymailWebhookValidationFailure:
            previous = settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS
            if not previous:
                raise
            self.webhook_signing_key = previous.encode()
            super().run_validators(request)

    def check_age(self, request) -> None:
        timestamp = self._signature_timestamp(request)
        try:
            signed_at = float(timestamp)
        except (TypeError, ValueError):
            signed_at = math.nan
        if not math.isfinite(signed_at):  # NaN would pass both age checks, infinity break them
            raise AnymailWebhookValidationFailure("Mailgun webhook signature timestamp is not a number")
        age = time.time() - signed_at
        if age > settings.MAIL_WEBHOOK_MAX_AGE:
            raise AnymailWebhookValidationFailure(
                f"Mailgun webhook signature is {int(age)} s old, over MAIL_WEBHOOK_MAX_AGE "
                f"({settings.MAIL_WEBHOOK_MAX_AGE} s)"
            )
        if age < -FUTURE_SKEW:
            raise AnymailWebhookValidationFailure("Mailgun webhook signature timestamp is in the future")

    @staticmethod
    def _json(request):
        # Parsed once per request: Anymail's validator parsed it already, and the webhook is
        # on Mailgun's busiest path, so the other readers here share one parse.
        if not hasattr(request, "_mailops_json"):
            request._mailops_json = json.loads(request.body.decode("utf-8"))
        return request._mailops_json

    def _signature_timestamp(self, request):
        # The validators already proved the body parses and carries these fields.
        if request.content_type == "application/json":
            return self._json(request)["signature"]["timestamp"]
        return request.POST["timestamp"]

    def parse_events(self, request):
        if request.content_type == "application/json":
            body = self._json(request)
            data = body.get("event-data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise AnymailWebhookValidationFailure("Mailgun webhook payload has no event-data object")
            missing = [name for name in REQUIRED_EVENT_FIELDS if data.get(name) in (None, "")]
            if missing:
                raise AnymailWebhookValidationFailure(
                    f"Mailgun webhook event-data lacks {', '.join(missing)}"
                )
            if not all(isinstance(data[name], str) for name in TEXT_FIELDS):
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook event-data event and recipient must be text"
                )
            if not isinstance(data.get("user-variables", {}), dict):
                raise AnymailWebhookValidationFailure("Mailgun webhook user-variables must be an object")
            if not _storable(data):
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook event-data holds NaN, Infinity or a lone surrogate (cannot be stored)"
                )
        try:
            if request.content_type == "application/json":
                # What Anymail's parse_events does, on the body parsed above.
                events = [self.esp_to_anymail_event(self._json(request))]
            else:
                events = super().parse_events(request)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            OverflowError,  # an event time past what a datetime holds
            AnymailConfigurationError,
        ) as error:
            raise AnymailWebhookValidationFailure(
                f"Mailgun webhook payload is malformed ({type(error).__name__})"
            ) from None
        for event in events:
            if not event.event_id or len(str(event.event_id)) > MAX_TOKEN:
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook event has no usable token to identify it"
                )
            if not all(isinstance(text, str | None) for text in (event.description, event.mta_response)):
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook delivery-status description and message must be text"
                )
        return events
