"""The probe URLs, mounted at the site root: /up, /health, /health/ready, /health/live, ..."""

from django.urls import re_path

from health import views

# A trailing slash is accepted too: load balancer configurations differ.
urlpatterns = [
    re_path(r"^up/?$", views.up, name="health-up"),
    re_path(r"^health/?$", views.readiness, name="health"),
    re_path(r"^health/ready/?$", views.readiness, name="health-ready"),
    re_path(r"^health/(?:live|app)/?$", views.liveness, name="health-live"),
    # The Laravel setup's path for its websocket server (Reverb): the realtime component.
    re_path(r"^health/reverb/?$", views.readiness, {"component": "realtime"}, name="health-reverb"),
    re_path(r"^health/(?P<component>\w+)/?$", views.readiness, name="health-component"),
]
