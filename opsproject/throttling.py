"""The API's rate limits: DRF's throttles, which let requests through while the cache is down.

The counts live in the cache (Redis in production). A Redis outage already answers 503 where a
request needs Redis (opsproject.outages); a rate limit must not add every other request to
them: an operator reading failed jobs during an outage is exactly who must get in. So while
the cache does not answer, these throttles allow the request and say so in the log (once a
minute). The login lockout (django-axes) keeps its counts in the database, and the requester
mail limit (helpdesk.throttles) does not use these: it refuses rather than mail unthrottled.
"""

from __future__ import annotations

import logging
import time

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from opsproject.outages import dependency_of

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60
_last_logged = 0.0


class _AllowWhileTheCacheIsDown:
    def allow_request(self, request, view) -> bool:
        global _last_logged
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            if dependency_of(exc) != "the cache":
                raise
            if time.monotonic() - _last_logged >= LOG_EVERY_SECONDS:
                _last_logged = time.monotonic()
                log.warning("API rate limits not applied: the cache does not answer (%s)", type(exc).__name__)
            return True


class AnonThrottle(_AllowWhileTheCacheIsDown, AnonRateThrottle):
    """API_THROTTLE_ANON per client address."""


class UserThrottle(_AllowWhileTheCacheIsDown, UserRateThrottle):
    """API_THROTTLE_USER per user."""
