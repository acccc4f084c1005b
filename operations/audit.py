"""The audit log's writer as operations calls it; the helper itself lives in audit.log."""

from audit.log import record  # noqa: F401
