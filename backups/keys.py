"""The age keys: recipients archives are encrypted to, and identities restores decrypt with."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from pyrage import x25519

from backups.errors import UsageError


def _dev_identity_file() -> Path:
    path = Path(settings.VAR_DIR) / "backup-dev-identity.txt"
    if not path.exists():
        identity = x25519.Identity.generate()
        # O_EXCL: two processes racing here must not end up with different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path
        with os.fdopen(fd, "w") as file:
            file.write(f"# public key: {identity.to_public()}\n{identity}\n")
    return path


def recipients() -> list[x25519.Recipient]:
    names = list(settings.BACKUP_AGE_RECIPIENTS)
    if not names and not settings.PRODUCTION:
        names = [str(identity.to_public()) for identity in identities(_dev_identity_file())]
    if not names:
        raise UsageError("BACKUP_AGE_RECIPIENTS is not set: no age public key to encrypt to")
    parsed = []
    for name in names:
        try:
            parsed.append(x25519.Recipient.from_str(name))
        except Exception:
            # The value is a public key, but keep the message short and fixed anyway.
            raise UsageError(
                f"BACKUP_AGE_RECIPIENTS holds a value that is not an age X25519 key: {name[:12]}..."
            ) from None
    return parsed


def identities(path: Path | str | None = None) -> list[x25519.Identity]:
    """The identities in `path` (default BACKUP_AGE_IDENTITY_FILE); never echoes key material."""
    if path is None:
        path = settings.BACKUP_AGE_IDENTITY_FILE
        if not path and not settings.PRODUCTION and not settings.BACKUP_AGE_RECIPIENTS:
            path = _dev_identity_file()
    if not path:
        raise UsageError("BACKUP_AGE_IDENTITY_FILE is not set: restores need the age private key")
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise UsageError(f"cannot read BACKUP_AGE_IDENTITY_FILE {path}: {error.strerror}") from None
    found = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(x25519.Identity.from_str(line))
        except Exception:
            raise UsageError(f"{path} line {number} is not an age X25519 identity") from None
    if not found:
        raise UsageError(f"{path} holds no age identity")
    return found
