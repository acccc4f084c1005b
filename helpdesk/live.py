"""The live ticket page: an agent watches a ticket's websocket events arrive, in the browser.

The smallest real client of the realtime service: Laravel Echo over pusher-js (vendored under
static/helpdesk/vendor/, served by WhiteNoise like every static file) subscribes to the ticket's
agents channel, authorizes at /broadcasting/auth with the session and its CSRF token, and
prints each event. Agents only; anyone else signed in gets 403, anonymous visitors the login page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from helpdesk.broadcasting import agents_channel
from helpdesk.models import Ticket
from helpdesk.permissions import is_agent


def socket_address(request) -> dict:
    """Host, port and TLS of the websocket server, as pusher-js takes them."""
    if settings.REALTIME_PUBLIC_URL:
        url = urlsplit(settings.REALTIME_PUBLIC_URL)
        tls = url.scheme == "wss"
        return {"host": url.hostname, "port": url.port or (443 if tls else 80), "tls": tls}
    tls = request.is_secure()
    host = request.get_host()
    name, _, port = host.rpartition(":") if host.rpartition(":")[2].isdigit() else (host, "", "")
    return {"host": name, "port": int(port) if port else (443 if tls else 80), "tls": tls}


@require_safe
@ensure_csrf_cookie
def live_ticket(request, pk: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not is_agent(request.user):
        return HttpResponseForbidden("Only agents can watch a ticket's events.", content_type="text/plain")
    ticket = get_object_or_404(Ticket, pk=pk)
    config = {
        "key": settings.REALTIME_APP_KEY,
        **socket_address(request),
        "authEndpoint": reverse("realtime-auth"),
        # Echo's private() adds the `private-` prefix itself.
        "channel": agents_channel(ticket.pk).removeprefix("private-"),
    }
    return render(request, "helpdesk/live.html", {"ticket": ticket, "config": config})


urlpatterns = [path("<int:pk>/live", live_ticket, name="ticket-live")]
