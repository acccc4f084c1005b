#!/usr/bin/env python
"""Django's command-line utility for opsproject."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings)
    except ImproperlyConfigured as refused:
        # A refused configuration (DJANGO_ENV=production's one list) is bad usage: one line, exit 2.
        sys.stderr.write(f"django.core.exceptions.ImproperlyConfigured: {refused}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
