"""Bad usage of every queue_* command exits 2 with one line on stderr, from the real command line."""

import os

import pytest

from tests.support.celery_worker import child_env
from tests.support.command_lines import run_command_lines

BAD_USAGE = [
    ("queue_failed", "--bogus"),
    ("queue_failed", "--queue"),
    ("queue_retry",),
    ("queue_retry", "9-5"),
    ("queue_retry", "5", "7-"),
    ("queue_retry", "5", "--queue", "mail"),
    ("queue_forget",),
    ("queue_forget", "1", "2"),
    ("queue_flush", "--hours", "-1"),
    ("queue_flush", "--hours", "soon"),
    ("queue_prune_failed", "--hours", "1.5"),
    ("queue_monitor", "celery"),
    ("queue_monitor", "celery:-1"),
    ("queue_monitor", "celery:10:old"),
    ("queue_probe", "--timeout", "0"),
    ("queue_probe", "--timeout", "inf"),  # an endless wait: refused like 0
    ("queue_probe", "--keep"),
    ("queue_workers", "extra"),
    ("queue_worker_alive", "--max-age", "-3"),
    ("queue_clear",),
    ("queue_clear", "celery"),  # no terminal to confirm on, no --force
    ("queue_clear", "qo_no_such_queue", "--force"),
    ("queue_restart", "--timeout", "0"),
    ("queue_restart", "--timeout", "1e308"),
    ("queue_restart", "extra"),
]


@pytest.mark.django_db(transaction=True)
def test_bad_usage_exits_2_with_a_one_line_message():
    for ran in run_command_lines(BAD_USAGE, env={**os.environ, **child_env()}):
        argv = ran.argv
        assert ran.returncode == 2, (argv, ran.returncode, ran.stderr)
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 1, (argv, ran.stderr)
        assert "error" in lines[0].lower() and "Traceback" not in ran.stderr, (argv, ran.stderr)
        assert ran.stdout == "", (argv, ran.stdout)
