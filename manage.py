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
    try:
        try:
            execute_from_command_line(sys.argv)
        finally:  # inside the outer try: the last buffered output may meet the closed pipe too,
            sys.stdout.flush()  # also when the command ends with SystemExit (exit 1, say)
    except BrokenPipeError as broken:
        if not _stdout_reader_gone():
            raise  # a broken socket (a service), not our reader: a real error
        # Whoever read stdout went away (`manage.py queue_failed --json | head -1`): end quietly, as
        # https://docs.python.org/3/library/signal.html#note-on-sigpipe does. stdout goes to
        # /dev/null so the interpreter's own flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        # Met while flushing after the command ended: how it ended still counts. An error is
        # reported (its traceback on stderr), a SystemExit keeps its status (0: output was lost).
        ended = broken.__context__
        if isinstance(ended, SystemExit):
            sys.exit(ended.code or 1)
        if ended is not None and not isinstance(ended, BrokenPipeError):
            raise ended from None
        sys.exit(1)


def _stdout_reader_gone() -> bool:
    """stdout is a pipe (or socket) whose reading end is closed: poll reports an error on it."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    main()
