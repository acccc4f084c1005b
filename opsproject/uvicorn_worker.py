"""gunicorn's uvicorn worker as production runs it: websocket messages capped at REALTIME_MAX_MESSAGE_BYTES.

gunicorn has no flag for uvicorn's --ws-max-size; uvicorn-worker's documented way to pass
uvicorn options is a subclass's CONFIG_KWARGS. The cap comes from the setting the realtime
consumer checks too, so the two cannot disagree.
"""

import os

import uvicorn_worker
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")


class UvicornWorker(uvicorn_worker.UvicornWorker):
    CONFIG_KWARGS = {
        **uvicorn_worker.UvicornWorker.CONFIG_KWARGS,
        "ws_max_size": settings.REALTIME_MAX_MESSAGE_BYTES,
    }
