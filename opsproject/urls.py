"""Top-level URL map: each app mounts its own urls module here."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The dashboard when signed in, the login page otherwise.
    path("", include("operations.home")),
    path("admin/", admin.site.urls),
    path("", include("health.urls")),
    # /metrics, /api/ops/, /api/schema/, /api/docs/ (before helpdesk's api/ so ops/ is ours).
    path("", include("operations.urls")),
    path("api/auth/", include("apitokens.urls")),
    path("api/", include("helpdesk.urls")),
    path("anymail/", include("mailops.urls")),
    path("broadcasting/", include("realtime.urls")),
    # The live ticket page: an agent watches the ticket's websocket events.
    path("tickets/", include("helpdesk.live")),
]
