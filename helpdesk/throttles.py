"""How often a non-agent may make the helpdesk send mail on their behalf (HELPDESK_REQUESTER_MAIL_RATE).

A public reply mails the requester and every collaborator through our Mailgun domain, so a
requester's replies are a way to send mail as us; agents are staff and are not limited. The
count is per user, in the default cache, through DRF's throttle (a refusal is a 429 before the
reply is stored: nothing is half-sent).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import UserRateThrottle

from helpdesk.permissions import is_agent


class RequesterMailThrottle(UserRateThrottle):
    scope = "helpdesk_requester_mail"

    def get_rate(self) -> str:
        return settings.HELPDESK_REQUESTER_MAIL_RATE

    def allow_request(self, request, view) -> bool:
        if is_agent(request.user) or super().allow_request(request, view):
            return True
        # Its own answer, whether or not the API's general rate refuses the request too.
        raise Throttled(
            self.wait(),
            detail="Too many replies: a reply mails the ticket's people, and replies by requesters "
            f"are limited to {settings.HELPDESK_REQUESTER_MAIL_RATE}.",
        )
