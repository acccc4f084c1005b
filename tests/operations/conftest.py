"""Fixtures of the operations tests: operators and non-operators with tokens, clean counters and queues."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from knox.models import AuthToken
from rest_framework.test import APIClient

from audit import rights
from operations import outcomes
from queueops.models import FailedJob
from tests.queueops.conftest import clear_store, purge

INCLUDE = "tests.operations.tasks"
QUEUES = ("celery", "ops_a", "ops_b", "ops_probe")
PASSWORD = "correct horse battery staple 42"


def make_user(
    username: str, *, staff: bool = False, ops_group: bool = False, ops_admin: bool = False
) -> User:
    """`ops_group`: may read; `ops_admin`: may read and act (the groups migration 0004 fills)."""
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=staff)
    if ops_group:
        user.groups.add(ops_group_named("ops"))
    if ops_admin:
        user.groups.add(ops_group_named("ops-admin"))
    return user


def ops_group_named(name: str) -> Group:
    """The group as operations' migration 0004 makes it; made again after a transactional test's
    flush emptied the tables (Django then recreates the permissions, not the groups)."""
    group, created = Group.objects.get_or_create(name=name)
    if created or not group.permissions.exists():
        wanted = [permission.split(".") for permission in rights.GROUPS[name]]
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=code) for app, code in wanted]
        )
    return group


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path):
    """A VAR_DIR of this test's own, handed to its child processes too: other suites running on
    the same checkout (a backup restore test's maintenance flag file, say) must not leak in."""
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """PBKDF2 costs seconds per user on a busy machine; no test here is about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db) -> User:
    return make_user("olga-staff", staff=True)


@pytest.fixture
def operator(db) -> User:
    """In the `ops-admin` group, not staff: the API is theirs (read and act), the admin is not."""
    return make_user("oscar-ops", ops_admin=True)


@pytest.fixture
def reader(db) -> User:
    """In the `ops` group only: reads everything, may take no action."""
    return make_user("rhea-ops", ops_group=True)


@pytest.fixture
def outsider(db) -> User:
    return make_user("nina-user")


@pytest.fixture
def clean_queues():
    clear_store()
    outcomes.reset()
    purge(*QUEUES)
    yield
    clear_store()
    outcomes.reset()
    purge(*QUEUES)


def failed_job(n: int, **fields) -> FailedJob:
    defaults = {
        "task_id": f"ops-task-{n}",
        "connection": "redis://127.0.0.1:6379/11",
        "queue": "ops_probe",
        "routing_key": "ops_probe",
        "task": "queueops.probe",
        "args": [float(n)],
        "exception": "builtins.ValueError",
        "message": f"boom {n}",
        "traceback": f"Traceback ...\nValueError: boom {n}",
        "attempts": 3,
    }
    return FailedJob.objects.create(**{**defaults, **fields})


def queue_size(name: str) -> int:
    from queueops.broker import queue_stats

    return queue_stats([name])[0].size


# The readiness report's test stands up backups in S3 and a local Mailgun: their fixtures.
from tests.backups.conftest import keys, s3_server  # noqa: E402, F401
from tests.mailops.conftest import mail_settings, mailgun, webhook_url  # noqa: E402, F401
