"""Backups to a real S3-compatible server (SeaweedFS started by the test), uploaded as they stream."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from backups import catalog
from backups.models import BackupDrill, BackupRecord
from tests.backups.conftest import backup_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("backup_users")]


@pytest.fixture
def filler():
    """About 12 MB of incompressible rows, so the upload needs several 5 MiB parts."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bk_s3_fill")
        cursor.execute("CREATE TABLE bk_s3_fill (id INT PRIMARY KEY, payload VARBINARY(1024))")
        cursor.execute("INSERT INTO bk_s3_fill SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_12000")
    yield "bk_s3_fill"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bk_s3_fill")


def test_backup_goes_to_s3_in_parts_lists_from_it_and_drills_from_it(
    s3_server, tmp_path, keys, filler, capsys
):
    prefix = f"t{tmp_path.name[-8:]}"
    with backup_settings(tmp_path, keys, s3_server.storage_config(prefix), BACKUP_S3_PART_SIZE_MB=5):
        call_command("backup_run", "--json", "--note", "s3")
        manifest = json.loads(capsys.readouterr().out)

        client = s3_server.client()
        objects = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix + "/")["Contents"]
        names = {o["Key"]: o for o in objects}
        archive = names[f"{prefix}/{manifest['archive']}"]
        assert f"{prefix}/{manifest['id']}.manifest.json" in names
        assert archive["Size"] == manifest["stored_size"] > 12_000_000
        # A multipart object's ETag ends in -<number of parts>: it was uploaded as it streamed.
        assert int(archive["ETag"].strip('"').rsplit("-", 1)[1]) >= 3
        assert manifest["row_counts"]["bk_s3_fill"] == 12000

        # The records are a mirror: wiped, then rebuilt from the bucket.
        BackupRecord.objects.all().delete()
        call_command("backup_list", "--refresh", "--json")
        listed = json.loads(capsys.readouterr().out)
        assert [b["id"] for b in listed["backups"]] == [manifest["id"]]
        assert listed["backups"][0]["sha256"] == manifest["sha256"]

        # The server serves the archive back: a drill streams it down and restores it.
        call_command("backup_drill", "latest", "--json")
        drill = json.loads(capsys.readouterr().out)
    assert drill["status"] == "passed", drill
    assert BackupDrill.objects.get().backup_id == manifest["id"]


def test_failed_upload_leaves_no_object_behind(s3_server, tmp_path, keys, filler, monkeypatch):
    """An upload that dies mid-stream is aborted: no archive, no manifest, no pending parts."""
    from backups import pipeline

    prefix = f"f{tmp_path.name[-8:]}"
    real = pipeline.encrypt_stream

    def dies_after_two_parts(source, sink, recipients, **kwargs):
        class Breaking:
            written = 0

            def write(self, data):
                Breaking.written += len(data)
                if Breaking.written > 11 * 1024 * 1024:
                    raise ConnectionResetError("network went away")
                return sink.write(data)

            def flush(self):
                pass

        return real(source, Breaking(), recipients, **kwargs)

    with backup_settings(tmp_path, keys, s3_server.storage_config(prefix), BACKUP_S3_PART_SIZE_MB=5):
        monkeypatch.setattr("backups.runner.encrypt_stream", dies_after_two_parts)
        with pytest.raises(SystemExit) as exit_info:
            call_command("backup_run")
        assert exit_info.value.code == 1
        client = s3_server.client()
        assert client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix + "/").get("KeyCount", 0) == 0
        uploads = client.list_multipart_uploads(Bucket=s3_server.bucket, Prefix=prefix + "/").get(
            "Uploads", []
        )
        assert uploads == []
        record = BackupRecord.objects.get()
        assert record.status == BackupRecord.FAILED
        assert "network went away" in record.error
        assert catalog.manifests() == []


def test_backup_run_configured_only_by_environment_variables(s3_server, tmp_path, keys, db_users):
    """The production path: BACKUP_S3_* and BACKUP_AGE_RECIPIENTS from the environment, a new process."""
    import os
    import subprocess

    from tests.support.celery_worker import child_env
    from tests.support.processes import PYTHON, REPO

    prefix = f"env{tmp_path.name[-8:]}"
    env = child_env(
        BACKUP_S3_BUCKET=s3_server.bucket,
        BACKUP_S3_ENDPOINT_URL=s3_server.endpoint,
        BACKUP_S3_REGION="us-east-1",
        BACKUP_S3_ACCESS_KEY_ID=s3_server.access_key,
        BACKUP_S3_SECRET_ACCESS_KEY=s3_server.secret_key,
        BACKUP_S3_PREFIX=prefix,
        BACKUP_AGE_RECIPIENTS=keys.recipient,
        BACKUP_DATABASE_URL=db_users.backup_url,  # the backup user, as compose's env file sets it
    )
    done = subprocess.run(
        [PYTHON, "manage.py", "backup_run", "--json"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads(done.stdout)
    assert manifest["recipients"] == [keys.recipient]
    assert s3_server.secret_key not in done.stderr + done.stdout
    keys_in_bucket = {
        o["Key"]
        for o in s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)["Contents"]
    }
    assert keys_in_bucket == {f"{prefix}/{manifest['archive']}", f"{prefix}/{manifest['id']}.manifest.json"}
