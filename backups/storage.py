"""Where archives and manifests live: STORAGES["backups"], written as they stream.

A failed backup leaves nothing under the archive's name (`.partial` renamed, multipart aborted).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from backups.errors import BackupError, StorageFull

ARCHIVE_SUFFIX = ".zst.age"
MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"


class ArchiveWriter:
    """A binary sink that becomes a stored object only on commit()."""

    # The storage's own failure of the last write: pyrage's encrypt_io hands its caller only a
    # generic EncryptError for an exception raised in write(), so the runner looks here.
    error: BackupError | None = None

    def write(self, data: bytes) -> int:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    # pyrage's encrypt_io calls these on its writer.
    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


class _LocalWriter(ArchiveWriter):
    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + PARTIAL_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.file = os.fdopen(fd, "wb", buffering=1024 * 1024)

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = self._explain(error)
            raise self.error from None

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        except OSError as error:
            self.error = self._explain(error)
            raise self.error from None
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        try:
            if not self.file.closed:
                self.file.close()  # flushes what is buffered: on a full disk that fails again
        except OSError:
            pass  # the descriptor is closed all the same; the partial file goes below
        finally:
            self.partial.unlink(missing_ok=True)

    def _explain(self, error: OSError) -> BackupError:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(f"no space left on device in {self.path.parent} (disk full or over quota)")
        return BackupError(f"writing {self.partial} failed: {error.strerror or error}")


class _S3Writer(ArchiveWriter):
    def __init__(self, storage, key: str, part_size: int):
        self.client = storage.connection.meta.client
        self.part_size = part_size
        self.buffer = bytearray()
        self.parts: list[dict] = []
        self.upload = {"Bucket": storage.bucket_name, "Key": key}
        self.upload["UploadId"] = self.client.create_multipart_upload(**self.upload)["UploadId"]

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= self.part_size:
            self._upload_part()
        return len(data)

    def _upload_part(self) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(**self.upload, PartNumber=number, Body=bytes(self.buffer))
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.buffer.clear()

    def commit(self) -> None:
        if self.buffer or not self.parts:
            self._upload_part()  # the last part may be smaller than the minimum
        self.client.complete_multipart_upload(**self.upload, MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        self.buffer.clear()
        self.client.abort_multipart_upload(**self.upload)


class BackupStorage:
    """The backups storage, with the streaming operations Django's Storage API lacks."""

    def __init__(self, storage: Storage | None = None):
        self.storage = storage if storage is not None else storages["backups"]

    @property
    def is_s3(self) -> bool:
        return hasattr(self.storage, "bucket_name") and hasattr(self.storage, "connection")

    @property
    def description(self) -> str:
        if self.is_s3:
            return f"s3 bucket {self.storage.bucket_name}"
        return f"folder {getattr(self.storage, 'location', '?')}"

    def _key(self, name: str) -> str:
        # django-storages' own name mapping (location prefix, no escaping the prefix).
        from storages.utils import clean_name

        return self.storage._normalize_name(clean_name(name))

    def writer(self, name: str) -> ArchiveWriter:
        if self.is_s3:
            return _S3Writer(self.storage, self._key(name), settings.BACKUP_S3_PART_SIZE_MB * 1024 * 1024)
        if isinstance(self.storage, FileSystemStorage):
            return _LocalWriter(Path(self.storage.path(name)))
        raise BackupError(f"STORAGES['backups'] backend {type(self.storage).__name__} cannot stream writes")

    def open(self, name: str) -> BinaryIO:
        """A streaming reader of a stored object."""
        if self.is_s3:
            return self.storage.bucket.Object(self._key(name)).get()["Body"]
        return self.storage.open(name, "rb")

    def write_json(self, name: str, data: dict) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode()
        if isinstance(self.storage, FileSystemStorage):
            writer = _LocalWriter(Path(self.storage.path(name)))
            try:
                writer.write(payload)
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            return
        self.storage.save(name, ContentFile(payload))

    def read_json(self, name: str) -> dict:
        with self.open(name) as file:
            return json.loads(file.read())

    def manifest_names(self) -> list[str]:
        return [name for name in self.names_in() if name.endswith(MANIFEST_SUFFIX)]

    def names_in(self, folder: str = "") -> list[str]:
        """Names (`folder/file`; at the top, `file`) of the objects directly inside `folder`, sorted."""
        try:
            files = self.storage.listdir(folder)[1]
        except FileNotFoundError:  # a local folder nothing was written to yet
            return []
        return sorted(f"{folder}/{name}" if folder else name for name in files)

    def size(self, name: str) -> int:
        return self.storage.size(name)

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def delete(self, name: str) -> None:
        self.storage.delete(name)
