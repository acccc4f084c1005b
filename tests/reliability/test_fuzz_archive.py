"""Random damage to a real backup is always refused before the restore touches its target.

One backup of the test database (plus a table of random bytes, so the archive spans several age
chunks) is made for the module, and a second one to swap manifest fields with. Hypothesis then
damages copies of it: bytes flipped at random offsets (anywhere, or in the age header), truncation
at random lengths and exactly at age chunk boundaries, junk appended, ranges spliced out or
overwritten, manifest fields swapped with the other backup's or with each other, and the manifest
file itself garbled. With `consistent`, the manifest's size and sha256 are made to match the
damaged bytes, so the stream's own checks (age authentication, the zstd frame) must catch it.

Each case runs `manage.py backup_restore <id> --target-database <target> --yes` in-process and
must exit 1 or 2 with a one-line error and no traceback, while the target (a sentinel table with
one row) keeps exactly what it had. Hypothesis runs derandomized, so every run tries the same
cases; a failure is shrunk to the smallest damage that gets through.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backups import keys as backup_keys
from backups import restore, signing
from backups.manifest import Manifest
from backups.models import BackupRecord
from backups.runner import run_backup
from backups.storage import BackupStorage
from tests.backups.conftest import backup_settings, make_keys

# Committed reads of the target: a transaction held open would block (not reveal) a restore that
# got as far as emptying it.
pytestmark = pytest.mark.django_db(transaction=True)

CASES = 200
AGE_CHUNK = 64 * 1024 + 16  # plaintext chunk plus its Poly1305 tag
NONCE = 16  # the payload key nonce between the age header and the first chunk
SENTINEL_TABLE = "sentinel"


@pytest.fixture(scope="module")
def backups(django_db_setup, django_db_blocker, tmp_path_factory):
    """(folder, keys, manifest, other manifest) of two backups of the test database."""
    folder = tmp_path_factory.mktemp("fuzz-archive")
    keys = make_keys(folder)
    with django_db_blocker.unblock(), backup_settings(folder, keys):
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE fuzz_noise (id INT PRIMARY KEY, noise VARBINARY(1024) NOT NULL)")
            cursor.execute("INSERT INTO fuzz_noise SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_320")
        try:
            manifest = run_backup(note="fuzzed")
            other = run_backup(note="the other one")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS fuzz_noise")
        yield folder, keys, manifest, other
        BackupRecord.objects.filter(backup_id__in=[manifest.id, other.id]).delete()


@pytest.fixture(scope="module")
def target(django_db_setup, django_db_blocker):
    """A database holding one sentinel row: what a refused restore must leave as it is."""
    name = f"ops_h2_fuzz_target_{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(f"CREATE TABLE `{name}`.{SENTINEL_TABLE} (id INT PRIMARY KEY, note VARCHAR(40))")
            cursor.execute(f"INSERT INTO `{name}`.{SENTINEL_TABLE} VALUES (1, 'untouched')")
        yield name
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def target_state(name: str) -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [name])
        tables = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(f"SELECT id, note FROM `{name}`.{SENTINEL_TABLE}")
        return tables, list(cursor.fetchall())


# --- the damage ------------------------------------------------------------------------------

Damage = Callable[[bytes], bytes]


def header_end(data: bytes) -> int:
    """Where the age header (ending with its `---` MAC line) ends and the payload begins."""
    mac_line = data.index(b"\n---")
    return data.index(b"\n", mac_line + 1) + 1


@st.composite
def byte_damage(draw, size: int, payload_at: int) -> tuple[str, Damage]:
    kind = draw(
        st.sampled_from(
            ["flip", "flip header", "truncate", "truncate at chunk", "append", "splice", "overwrite"]
        )
    )
    if kind in ("flip", "flip header"):
        end = payload_at if kind == "flip header" else size
        flips = draw(
            st.lists(st.tuples(st.integers(0, end - 1), st.integers(1, 255)), min_size=1, max_size=3)
        )

        def damage(data: bytes) -> bytes:
            damaged = bytearray(data)
            for offset, mask in flips:
                damaged[offset] ^= mask
            return bytes(damaged)

        return f"{kind} {flips}", damage
    if kind == "truncate":
        length = draw(st.integers(0, size - 1))
        return f"truncate to {length}", lambda data: data[:length]
    if kind == "truncate at chunk":
        chunks = (size - payload_at - NONCE) // AGE_CHUNK
        length = (
            payload_at + NONCE + AGE_CHUNK * draw(st.integers(0, chunks)) + draw(st.sampled_from([0, -16]))
        )
        return f"truncate at chunk boundary {length}", lambda data: data[:length]
    if kind == "append":
        junk = draw(st.binary(min_size=1, max_size=5000))
        return f"append {len(junk)} bytes", lambda data: data + junk
    start = draw(st.integers(0, size - 1))
    length = draw(st.integers(1, 70_000))
    if kind == "splice":
        return f"cut {length} bytes at {start}", lambda data: data[:start] + data[start + length :]
    noise = draw(st.binary(min_size=1, max_size=64))
    return f"overwrite at {start}", lambda data: data[:start] + noise + data[start + len(noise) :]


MANIFEST_SWAPS = ["sha256", "stored_size", "raw_size", "archive", "sizes crossed", "sha256 reversed"]


def swap_fields(fields: dict, other: dict, swap: str) -> dict:
    """The manifest with one field taken from the other backup, or two of its own crossed."""
    if swap == "sizes crossed":
        return {**fields, "stored_size": fields["raw_size"], "raw_size": fields["stored_size"]}
    if swap == "sha256 reversed":
        return {**fields, "sha256": fields["sha256"][::-1]}
    return {**fields, swap: other[swap]}


# What a manifest says about its archive and how to read it. Its other fields (note, row counts,
# migrations, dump flags...) do not describe the archive's bytes: an intact archive under a manifest
# with those changed restores, as it should (row counts are compared after the load).
INTEGRITY_FIELDS = ["archive", "stored_size", "sha256", "raw_size", "format", "database", "started_at"]


def garbled_manifest(data, real: dict) -> bytes:
    """Bytes for the manifest file that are not a whole, valid manifest (`data`: st.data())."""
    how = data.draw(st.sampled_from(["junk", "json", "truncated", "field"]))
    if how == "junk":
        return data.draw(st.binary(max_size=200))
    if how == "json":
        scalars = st.none() | st.integers() | st.text(max_size=8)
        return json.dumps(data.draw(st.recursive(scalars, st.lists, max_leaves=10))).encode()
    text = json.dumps(real)
    if how == "truncated":
        return text[: data.draw(st.integers(0, len(text) - 1))].encode()
    name = data.draw(st.sampled_from(INTEGRITY_FIELDS))
    values = [None, 0, -1, "", [], {}, "x" * 300, 2**70, "../../escape.sql.zst.age"]
    value = data.draw(st.sampled_from(values))
    return json.dumps({**real, name: value}).encode()


# --- the test --------------------------------------------------------------------------------


def restore_exit(backup_id: str, target: str) -> tuple[int, str]:
    """(exit code, stderr) of `backup_restore` into `target`."""
    err = io.StringIO()
    try:
        call_command(
            "backup_restore",
            backup_id,
            "--target-database",
            target,
            "--yes",
            stderr=err,
            stdout=io.StringIO(),
        )
    except SystemExit as exit_info:
        return exit_info.code, err.getvalue()
    return 0, err.getvalue()


def test_every_random_damage_is_refused_before_the_target_is_touched(backups, target):
    folder, keys, manifest, other = backups
    store = folder / "store"
    pristine = (store / manifest.archive).read_bytes()
    payload_at = header_end(pristine)
    assert len(pristine) > payload_at + NONCE + 3 * AGE_CHUNK, "the archive spans several age chunks"
    before = target_state(target)
    real, other_fields = manifest.to_dict(), other.to_dict()
    seen: dict[str, int] = {}

    @settings(
        max_examples=CASES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def damaged_restore_is_refused(data):
        case_id = f"{manifest.id}-fz{secrets.token_hex(4)}"
        archive = f"{case_id}.sql.zst.age"
        fields = {**real, "id": case_id, "archive": archive}
        what = data.draw(st.sampled_from(["bytes", "bytes", "bytes", "manifest fields", "manifest file"]))
        content, manifest_bytes = pristine, None
        if what == "bytes":
            description, damage = data.draw(byte_damage(len(pristine), payload_at))
            content = damage(pristine)
            assume(content != pristine)  # an overwrite with the same bytes, a cut at the very end
            if data.draw(st.booleans(), label="consistent"):
                fields = {
                    **fields,
                    "stored_size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                }
                description += ", manifest made to match"
        elif what == "manifest fields":
            swap = data.draw(st.sampled_from(MANIFEST_SWAPS))
            fields = swap_fields(fields, other_fields, swap)
            description = f"manifest {swap} swapped"
        else:
            manifest_bytes = garbled_manifest(data, fields)
            description = f"manifest file garbled: {manifest_bytes[:80]!r}"
        (store / archive).write_bytes(content)
        if manifest_bytes is None:  # signed as the writer would: the archive checks must catch it
            manifest_bytes = json.dumps(signing.sign(fields)).encode()
        (store / f"{case_id}.manifest.json").write_bytes(manifest_bytes)
        try:
            with backup_settings(folder, keys):
                code, stderr = restore_exit(case_id, target)
        finally:
            (store / archive).unlink()
            (store / f"{case_id}.manifest.json").unlink()
        seen[what] = seen.get(what, 0) + 1
        assert code in (1, 2), f"{description}: restore exited {code}: {stderr}"
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        assert last.startswith("backup_restore: error:") and "Traceback" not in stderr, (description, stderr)
        assert target_state(target) == before, f"{description}: the target changed; {last}"

    damaged_restore_is_refused()

    # The undamaged archive verifies, so the refusals above were the damage's doing.
    with backup_settings(folder, keys):
        restore.verify(Manifest.from_dict(real), BackupStorage(), backup_keys.identities())
    assert sum(seen.values()) >= CASES * 0.9 and len(seen) == 3, seen
