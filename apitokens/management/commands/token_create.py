"""`manage.py token_create <username>`: a new API token for a user, printed once."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken
from knox.settings import knox_settings


class Command(BaseCommand):
    help = (
        "Make a new API token for USERNAME and print it (once: only its hash is stored). It "
        "expires after API_TOKEN_TTL seconds unless --ttl says otherwise; clients send "
        "`Authorization: Token <token>`. Exit 2 for an unknown or inactive user."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--ttl", type=int, help="seconds until it expires (default API_TOKEN_TTL)")

    def handle(self, *args, username: str, ttl: int | None, **options):
        if ttl is not None and ttl < 1:
            raise CommandError("--ttl must be at least 1 second", returncode=2)
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}", returncode=2)
        expiry = timedelta(seconds=ttl) if ttl is not None else knox_settings.TOKEN_TTL
        instance, token = AuthToken.objects.create(user=user, expiry=expiry)
        self.stdout.write(token)
        self.stderr.write(f"expires {instance.expiry.isoformat()}")
