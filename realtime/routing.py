"""Websocket routes of the realtime app, mounted by opsproject/asgi.py."""

from django.urls import re_path

from realtime.consumers import pusher_app

websocket_urlpatterns = [
    re_path(r"^app/(?P<app_key>[^/]+)$", pusher_app),
]
