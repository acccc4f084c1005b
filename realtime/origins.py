"""The websocket origin check: ALLOWED_HOSTS plus REALTIME_ALLOWED_ORIGINS, refusals logged.

A handshake without an Origin header passes: the check stops other sites' pages riding a user's
cookies, a non-browser client has none to ride, and private channels need a signature anyway.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

logger = logging.getLogger("realtime")


class LoggingOriginValidator(OriginValidator):
    def __init__(self, application, allowed_origins=None):
        if allowed_origins is None:
            allowed_origins = [*settings.ALLOWED_HOSTS, *settings.REALTIME_ALLOWED_ORIGINS]
        super().__init__(application, allowed_origins)

    async def __call__(self, scope, receive, send):
        origin = dict(scope.get("headers", [])).get(b"origin")
        if origin is None or self._allowed(origin.decode("latin1")):
            return await self.application(scope, receive, send)
        logger.warning(
            "realtime: refused websocket %s from %s: origin %r is not in ALLOWED_HOSTS or "
            "REALTIME_ALLOWED_ORIGINS",
            scope.get("path", "?"),
            (scope.get("client") or ("?",))[0],
            origin.decode("latin1")[:200],
        )
        return await WebsocketDenier()(scope, receive, send)

    def _allowed(self, origin: str) -> bool:
        try:
            return self.validate_origin(urlparse(origin))
        except ValueError:  # not a URL ("http://[", a port past 65535): like no allowed origin
            return False
