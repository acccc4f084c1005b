"""gunicorn's settings file for the web process: its master logs the way every process does.

The workers import Django and so run settings.LOGGING; the master never does, so without this
file its own lines (workers booted, timed out, killed for memory; signals) stay gunicorn's plain
text inside a JSON log. Every web command passes it: `gunicorn --config=python:opsproject.gunicorn_conf`.
Reading settings here also makes a bad environment stop the master at once, with settings' one error.
"""

import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

# gunicorn applies it with logging.config.dictConfig over its own defaults.
logconfig_dict = settings.LOGGING
