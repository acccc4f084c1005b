"""The streaming pass: raw dump -> zstd -> age -> sink, and its reverse with every check.

Small chunks through file-like adapters keep memory flat whatever the database size.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass

import pyrage
import zstandard

from backups.errors import IntegrityError
from backups.progress import Progress

CHUNK = 128 * 1024
HEAD_BYTES = 64 * 1024  # kept from the raw dump: the binlog position comment lives there


@dataclass
class StreamStats:
    raw_bytes: int
    stored_bytes: int
    sha256: str
    head: bytes = b""


PREFETCH_CHUNK = 1024 * 1024
PREFETCH_DEPTH = 8  # chunks read ahead: bounds the memory the read-ahead can take (8 MiB)


class _Prefetcher:
    """Reads the dump pipe in a thread, up to PREFETCH_DEPTH chunks ahead of the compressor.

    Without it the dump stalls on its 64 KiB pipe while we compress, instead of overlapping.
    """

    def __init__(self, source):
        self.source = source
        self.chunks: queue.Queue = queue.Queue(PREFETCH_DEPTH)
        self.current = memoryview(b"")
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.finished = False
        self.thread = threading.Thread(target=self._pump, name="backup-prefetch", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            while not self.stopped.is_set():
                data = self.source.read(PREFETCH_CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as error:
            self.error = error
            self._put(b"")

    def _put(self, data: bytes) -> None:
        while not self.stopped.is_set():
            try:
                self.chunks.put(data, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        if not self.current:
            if self.finished:
                return b""
            data = self.chunks.get()
            if not data:
                self.finished = True
                if self.error is not None:
                    raise self.error
                return b""
            self.current = memoryview(data)
        size = len(self.current) if size is None or size < 0 else size
        piece, self.current = self.current[:size], self.current[size:]
        return bytes(piece)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)


class _CountingReader:
    """Reads the raw dump, counting bytes and keeping its first HEAD_BYTES."""

    def __init__(self, source, progress: Progress):
        self.source = source
        self.progress = progress
        self.count = 0
        self.head = bytearray()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size and size > 0 else CHUNK)
        self.count += len(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self.progress.update(len(data))
        return data

    def readable(self) -> bool:
        return True


class _Writer:
    """What pyrage's *_io calls on a writer besides write()."""

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


class _HashingWriter(_Writer):
    def __init__(self, sink):
        self.sink = sink
        self.hash = hashlib.sha256()
        self.count = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.count += len(data)
        self.sink.write(data)
        return len(data)


class _HashingReader:
    def __init__(self, source, progress: Progress):
        self.source = source
        self.progress = progress
        self.hash = hashlib.sha256()
        self.count = 0
        self.error: BaseException | None = None  # a storage read error, not the archive's fault

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.source.read(size if size and size > 0 else CHUNK)
        except BaseException as error:
            self.error = error
            raise
        self.hash.update(data)
        self.count += len(data)
        self.progress.update(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Decompressor(_Writer):
    """A writer that decompresses one zstd frame into `sink` and knows whether it ended."""

    def __init__(self, sink):
        self.sink = sink
        self.decompressor = zstandard.ZstdDecompressor().decompressobj()
        self.count = 0
        self.trailing = 0
        # pyrage turns an exception raised in a write into a bare OSError; keep the original.
        self.error: BaseException | None = None

    def write(self, data) -> int:
        try:
            return self._write(data)
        except BaseException as error:
            self.error = error
            raise

    def _write(self, data) -> int:
        if self.decompressor.eof:
            self.trailing += len(data)
            return len(data)
        try:
            out = self.decompressor.decompress(bytes(data))
        except zstandard.ZstdError as error:
            raise IntegrityError(f"zstd stream is corrupt: {error}") from None
        if self.decompressor.eof:
            self.trailing += len(self.decompressor.unused_data)
        if out:
            self.count += len(out)
            self.sink.write(out)
        return len(data)

    def finish(self) -> None:
        if not self.decompressor.eof:
            raise IntegrityError("zstd stream ends before its frame does (truncated archive)")
        if self.trailing:
            raise IntegrityError(f"{self.trailing} unexpected bytes after the zstd frame")


class DiscardSink(_Writer):
    def write(self, data) -> int:
        return len(data)


def encrypt_stream(source, sink, recipients, *, level: int = 1, progress: Progress) -> StreamStats:
    """Compress and encrypt everything `source` yields into `sink` in one pass."""
    prefetch = _Prefetcher(source)
    try:
        counting = _CountingReader(prefetch, progress)
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        compressed = compressor.stream_reader(counting, read_size=CHUNK, closefd=False)
        hashing = _HashingWriter(sink)
        pyrage.encrypt_io(compressed, hashing, recipients)
    finally:
        prefetch.close()
    progress.close()
    return StreamStats(counting.count, hashing.count, hashing.hash.hexdigest(), bytes(counting.head))


def decrypt_stream(source, sink, identities, *, progress: Progress) -> StreamStats:
    """Decrypt and decompress `source` into `sink`; raises IntegrityError on any damage.

    `sink` receives plaintext before the end of the archive is authenticated: verify into a
    DiscardSink first when the sink is something that must not see a damaged stream.
    """
    hashing = _HashingReader(source, progress)
    decompressor = _Decompressor(sink)
    try:
        pyrage.decrypt_io(hashing, decompressor, identities)
    except (pyrage.DecryptError, OSError) as error:
        for side in (hashing, decompressor):
            if side.error is not None:
                raise side.error from None
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__  # rage adds hint lines
        raise IntegrityError(f"age decryption failed (corrupt, truncated or wrong key): {reason}") from None
    decompressor.finish()
    progress.close()
    return StreamStats(decompressor.count, hashing.count, hashing.hash.hexdigest())
