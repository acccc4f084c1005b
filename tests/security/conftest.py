"""Fixtures the attack tests borrow from the apps' tests: age keys and the real S3 server."""

from tests.backups.conftest import keys, s3_server

__all__ = ["keys", "s3_server"]
