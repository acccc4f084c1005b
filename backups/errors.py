"""The exceptions backups raise: each carries a one-line message safe to show an operator."""


class BackupError(Exception):
    """A backup, restore, prune or drill failed; the message says which step and why."""


class UsageError(BackupError):
    """Bad input from the operator (unknown id, bad alias, missing key): exit code 2."""


class IntegrityError(BackupError):
    """An archive failed verification (checksum, age authentication, zstd frame, size)."""


class StorageFull(BackupError):
    """The backup storage has no room left (ENOSPC, or a quota): the message names where."""
