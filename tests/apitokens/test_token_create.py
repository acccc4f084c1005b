"""`manage.py token_create`: prints a working token once, stores only its digest, refuses bad usage."""

from __future__ import annotations

import os
import subprocess

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from knox.auth import TokenAuthentication
from knox.models import AuthToken

from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO

pytestmark = pytest.mark.django_db(transaction=True)


def _command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", "token_create", *args],
        cwd=REPO,
        env={**os.environ, **child_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prints_a_token_that_authenticates_and_is_stored_hashed():
    user = User.objects.create_user("machine")
    done = _command("machine", "--ttl", "600")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert len(token) == 64
    assert "expires" in done.stderr
    stored = AuthToken.objects.get(user=user)
    assert token not in (stored.digest, stored.token_key)
    assert TokenAuthentication().authenticate_credentials(token.encode())[0] == user
    assert 500 < (stored.expiry - stored.created).total_seconds() <= 600


@pytest.mark.parametrize(
    ("args", "message"), [(("ghost",), "no active user"), (("machine", "--ttl", "0"), "--ttl")]
)
def test_bad_usage_exits_2_with_one_line(args, message):
    User.objects.create_user("machine")
    done = _command(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("password", ["short1", "password1234", "12345678901234", "machine-machine"])
def test_password_validators_refuse_weak_passwords(password):
    with pytest.raises(ValidationError):
        validate_password(password, user=User(username="machine-machine"))
