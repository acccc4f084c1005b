"""`manage.py local_operator`: the development operator account `make run` signs you in with."""

from __future__ import annotations

import json
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "operator"
FILE_NAME = "local-operator.txt"


class Command(BaseCommand):
    help = (
        "Make sure the local operator account exists (development only, refused in production with "
        "exit 2): a superuser named `operator` whose password is generated once per checkout and "
        "kept in VAR_DIR/local-operator.txt (mode 0600), never in the code. Prints the URL to open "
        "and how to sign in; the password itself only when it was just made. `make run` runs it "
        "after migrating. Everyone else: `manage.py createsuperuser`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="the address to tell (default %(default)s)"
        )

    def handle(self, *args, url, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "the local operator account is for development only (DJANGO_ENV=production): "
                "use `manage.py createsuperuser`",
                returncode=2,
            )
        path = settings.VAR_DIR / FILE_NAME
        credentials, new_password = _credentials(path)
        user, created = _account(credentials)
        self.stdout.write(f"Open {url} and sign in as `{credentials['username']}`.")
        if new_password or created:
            self.stdout.write(f"Password: {credentials['password']}  (kept in {path}, readable by you only)")
        elif not user.check_password(credentials["password"]):
            self.stdout.write(
                f"Its password was changed since {path} was written: sign in with yours, or "
                f"`manage.py changepassword {user.get_username()}`."
            )
        else:
            self.stdout.write(f"The password is in {path}.")


def _credentials(path) -> tuple[dict, bool]:
    """The stored credentials, or new ones written 0600 (False, True) when there were none."""
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and stored.get("username") and stored.get("password"):
            return {"username": str(stored["username"]), "password": str(stored["password"])}, False
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise CommandError(
            f"{path} is unreadable ({type(exc).__name__}): remove it to make a new password"
        ) from exc
    credentials = {"username": USERNAME, "password": secrets.token_urlsafe(18)}
    # Created 0600 in one step: the password is never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(credentials, handle)
        handle.write("\n")
    os.chmod(path, 0o600)
    return credentials, True


def _account(credentials: dict):
    """The superuser of `credentials`, made when missing; its password is set only then."""
    users = get_user_model()
    user = users.objects.filter(username=credentials["username"]).first()
    if user is None:
        user = users.objects.create_superuser(credentials["username"], "", credentials["password"])
        return user, True
    if not (user.is_superuser and user.is_staff and user.is_active):
        user.is_superuser = user.is_staff = user.is_active = True
        user.save(update_fields=["is_superuser", "is_staff", "is_active"])
    return user, False
