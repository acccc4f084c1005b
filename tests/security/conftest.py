"""Fixtures the attack tests borrow from the apps' tests: age keys, a backup folder, real S3."""

from tests.backups.conftest import keys, local_backups, s3_server

__all__ = ["keys", "local_backups", "s3_server"]
