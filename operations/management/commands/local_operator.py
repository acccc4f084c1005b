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
        "and how to sign in; the password itself only when it was just made. Remove the file for a "
        "new password (the account gets it). `make run` runs it after migrating. Everyone else: "
        "`manage.py createsuperuser`."
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
        user, created = _account(credentials, new_password)
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
    except FileNotFoundError:
        stored = None
    except (OSError, ValueError) as exc:
        raise CommandError(
            f"{path} is unreadable ({type(exc).__name__}): remove it to make a new password", returncode=2
        ) from exc
    if stored is not None:
        if not (isinstance(stored, dict) and stored.get("username") and stored.get("password")):
            # Never overwritten: it may be someone's own file; the operator decides.
            raise CommandError(
                f"{path} holds no username and password: remove it to make a new password", returncode=2
            )
        # A copy or an editor may have widened it: the password stays readable by its owner only.
        os.chmod(path, 0o600)
        return {"username": str(stored["username"]), "password": str(stored["password"])}, False
    credentials = {"username": USERNAME, "password": secrets.token_urlsafe(18)}
    # Created 0600 in one step (the password is never readable by others, not even for a moment),
    # and only as a new file: a link left in its place is not followed to write elsewhere.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise CommandError(
            f"{path} cannot be created ({type(exc).__name__}): remove what is in its place", returncode=2
        ) from exc
    os.fchmod(descriptor, 0o600)  # whatever the umask took away, the owner can read it
    with os.fdopen(descriptor, "w") as handle:
        json.dump(credentials, handle)
        handle.write("\n")
    return credentials, True


def _account(credentials: dict, new_password: bool):
    """The superuser of `credentials`, made when missing; its password is set only then or when
    the file was just written (it was removed to make a new password: what is printed must work)."""
    users = get_user_model()
    user = users.objects.filter(username=credentials["username"]).first()
    if user is None:
        return users.objects.create_superuser(credentials["username"], "", credentials["password"]), True
    fields = []
    if not (user.is_superuser and user.is_staff and user.is_active):
        user.is_superuser = user.is_staff = user.is_active = True
        fields += ["is_superuser", "is_staff", "is_active"]
    if new_password:
        user.set_password(credentials["password"])
        fields.append("password")
    if fields:
        user.save(update_fields=fields)
    return user, False
