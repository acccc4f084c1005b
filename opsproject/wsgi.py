"""WSGI entry point, for servers that speak only WSGI; production serves opsproject.asgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

application = get_wsgi_application()
