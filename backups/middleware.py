"""MaintenanceMiddleware: 503 + Retry-After for every request while the maintenance flag is on.

Health probes and the admin stay reachable: load balancers and operators need them.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from backups import maintenance

EXEMPT_PREFIXES = ("/health", "/up", "/admin/")


class MaintenanceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(EXEMPT_PREFIXES) or not maintenance.active():
            return self.get_response(request)
        message = "Down for maintenance (database restore); try again shortly."
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message + "\n", status=503, content_type="text/plain")
        response["Retry-After"] = str(settings.BACKUP_MAINTENANCE_RETRY_AFTER)
        response["Cache-Control"] = "no-store"
        return response
