"""The /metrics endpoint: Prometheus text exposition of operations.metrics, for allowed scrapers only."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from operations.access import may_scrape
from operations.metrics import registry


@require_GET
def metrics(request) -> HttpResponse:
    if not may_scrape(request):
        response = HttpResponse(
            "Forbidden: send Authorization: Bearer <METRICS_TOKEN>, or scrape from METRICS_ALLOWED_IPS.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
