"""The realtime app's configuration."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from opsproject.logs import quiet_client_mistakes

        # A websocket server's log must not hold a traceback per hostile frame (opsproject/logs.py).
        quiet_client_mistakes()
