"""The embedded profile's store (the database cache): concurrent processes lose no update, and
no entry is culled however many the cache holds."""

import os
import subprocess
import uuid

import pytest
from django.core.cache import cache
from django.db import connection

from keyvalue import CacheKeyValue, store
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]

PROCESSES, ROUNDS = 4, 40

# Each process waits for the go file, then updates the same counter hash, counter and board.
_CHILD = """
import os, sys, time
import django
django.setup()
from keyvalue import store
key, name, ready, go, rounds = sys.argv[1:6]
kv = store()
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
for n in range(int(rounds)):
    kv.counts_add(key + ":counts", {"all": 1, name: 1})
    kv.incr(key + ":counter", 600)
    kv.board_put(key + ":board", f"{name}-{n}", "alive")
"""


def test_concurrent_processes_lose_no_update(tmp_path):
    assert isinstance(store(), CacheKeyValue)
    key, go = f"kv-race:{uuid.uuid4().hex}", tmp_path / "go"
    env = {**os.environ, **child_env(), "DJANGO_SETTINGS_MODULE": "opsproject.settings"}
    names = [f"p{n}" for n in range(PROCESSES)]
    children = [
        subprocess.Popen(
            [PYTHON, "-c", _CHILD, key, name, str(tmp_path / name), str(go), str(ROUNDS)],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        wait_until(lambda: all((tmp_path / name).exists() for name in names), 120, "the processes ready")
        go.touch()
        errors = [child.communicate(timeout=300)[1] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert [child.returncode for child in children] == [0] * PROCESSES, errors
    kv = store()
    assert kv.counts(key + ":counts") == [{"all": PROCESSES * ROUNDS, **{name: ROUNDS for name in names}}]
    assert kv.get(key + ":counter") == PROCESSES * ROUNDS
    assert len(kv.board(key + ":board")) == PROCESSES * ROUNDS


def test_the_store_is_never_culled_however_full_the_cache():
    kv = store()
    kv.board_put("0-heartbeats", "worker@host", "alive")  # sorted first: what culling takes first
    kv.counts_add("0-counts", {"events": 3})
    for n in range(400):  # past Django's default MAX_ENTRIES (300)
        cache.set(f"filler-{n}", n, 600)
    assert kv.board("0-heartbeats") == {"worker@host": "alive"}
    assert kv.counts("0-counts") == [{"events": 3}]


# Adds one inside a transaction, which it keeps open until the reader has started its own update
# (the `reading` file), then adds one more in it and commits.
_IN_TRANSACTION = """
import os, sys, time
import django
django.setup()
from django.db import transaction
from keyvalue import store
key, added, reading = sys.argv[1:4]
with transaction.atomic():
    store().counts_add(key, {"n": 1})
    open(added, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(reading):
        if time.monotonic() > deadline:
            sys.exit("the other process never started its update")
        time.sleep(0.01)
    store().counts_add(key, {"n": 1})
"""


def _touch_at_begin(path):
    """An execute wrapper that creates `path` just before the connection begins a transaction."""

    def wrapper(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            path.touch()
        return execute(sql, params, many, context)

    return wrapper


def test_an_update_made_inside_a_callers_open_transaction_is_not_lost(tmp_path):
    """The lock covers the read-modify-write, but a caller's transaction commits it later: another
    process updating meanwhile must read after that commit, not add to the value before it.

    The child keeps its transaction open until this process begins one: with the protection
    (CacheKeyValue._exclusive takes the transaction before the lock), that BEGIN comes before
    this process reads and waits for the child's commit, so the race is exercised however
    loaded the machine. The child's second update, made while this process waits, takes the
    lock: it would deadlock (until SQLite's busy timeout) if the waiting process held it.
    Without the transaction, this process would read the value from before that commit."""
    key, added, reading = f"kv-tx:{uuid.uuid4().hex}", tmp_path / "added", tmp_path / "reading"
    env = {**os.environ, **child_env(), "DJANGO_SETTINGS_MODULE": "opsproject.settings"}
    child = subprocess.Popen(
        [PYTHON, "-c", _IN_TRANSACTION, key, str(added), str(reading)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(added.exists, 120, "the child's update, uncommitted")
        with connection.execute_wrapper(_touch_at_begin(reading)):
            store().counts_add(key, {"n": 1})
        _, errors = child.communicate(timeout=120)
        assert child.returncode == 0, errors
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert store().counts(key) == [{"n": 3}]
