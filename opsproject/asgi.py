"""ASGI entry point: HTTP to Django, websockets through the origin check to the router."""

import os

from django.conf import settings

from opsproject.http_threads import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

# Django must be set up before anything imports models (channels' auth does). Requests run on
# WEB_THREADS long-lived threads, so database connections outlive a request (http_threads.py).
django_asgi_app = get_asgi_application(threads=settings.WEB_THREADS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from health.asgi import HealthProbes  # noqa: E402
from realtime.asgi import RealtimeServer  # noqa: E402
from realtime.origins import LoggingOriginValidator  # noqa: E402
from realtime.routing import websocket_urlpatterns as realtime_routes  # noqa: E402

# Pusher-protocol websockets at /app/<key>; anything else is refused.
websocket_urlpatterns = [*realtime_routes]

application = ProtocolTypeRouter(
    {
        # Health probes are answered before Django's middleware (health/asgi.py).
        "http": HealthProbes(django_asgi_app),
        # Origins are checked against ALLOWED_HOSTS and REALTIME_ALLOWED_ORIGINS, refusals logged.
        # No session or user lookup: a Pusher connection is anonymous (private channels need a
        # signature from /broadcasting/auth), and two thread hops per connection cost capacity.
        "websocket": LoggingOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# The websocket server's entry (compose's realtime service, make run): as `application`, with
# the realtime hub started with the process, so the server is on the heartbeat board at once.
realtime_application = RealtimeServer(application)
