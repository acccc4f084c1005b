"""Refusing a query string Django will not parse (too many fields) with a 400, before any view.

Django parses request.GET lazily and raises TooManyFieldsSent past DATA_UPLOAD_MAX_NUMBER_FIELDS
(1000). DRF reads the query string during content negotiation, before it knows a renderer, so
`?a0=1&...&a1000=1` on any API endpoint, the admin login or /broadcasting/ was a 500 with a
traceback. Parsing it once here (Django caches it) answers every such request 400.
"""

from __future__ import annotations

import logging

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpResponseBadRequest

log = logging.getLogger(__name__)


class QueryStringMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.GET  # noqa: B018 - parsed and cached for the view, or refused here
        except TooManyFieldsSent as refused:
            log.warning("query string refused: %s", refused)
            return HttpResponseBadRequest(
                "Too many fields in the query string.\n", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
