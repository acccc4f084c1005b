"""The shared key-value store's contract, on the real Redis and on the Django cache alike."""

import uuid

import pytest
from asgiref.sync import async_to_sync

from keyvalue import CacheKeyValue, RedisKeyValue, store


@pytest.fixture(params=["redis", "cache"])
def kv(request, db):
    if request.param == "cache":
        return CacheKeyValue()
    shared = store()
    if not isinstance(shared, RedisKeyValue):
        pytest.skip("the integration profile's Redis store")
    return shared


@pytest.fixture
def key(kv):
    name = f"test-keyvalue:{uuid.uuid4().hex}"
    yield name
    kv.delete(name)


def test_incr_counts_up_from_one(kv, key):
    assert [kv.incr(key, 100) for _ in range(3)] == [1, 2, 3]


def test_incr_sets_the_expiry_on_redis(kv, key):
    if not isinstance(kv, RedisKeyValue):
        pytest.skip("expiry is read back from Redis")
    kv.incr(key, 200)
    assert 100 < kv.client.ttl(key) <= 200


def test_counts_add_up_per_field_and_read_back_in_order(kv, key):
    kv.counts_add(key, {"a": 2, "b": 1})
    kv.counts_add(key, {"a": 3})
    assert kv.counts(key, key + ":absent") == [{"a": 5, "b": 1}, {}]


def test_counts_add_many_updates_several_hashes_with_their_own_expiry(kv, key):
    other = key + ":other"
    try:
        kv.counts_add_many([(key, {"a": 1}, None), (other, {"b": 2, "c": 1}, 300)])
        kv.counts_add_many([(other, {"b": 1}, 300)])
        assert kv.counts(key, other) == [{"a": 1}, {"b": 3, "c": 1}]
        if isinstance(kv, RedisKeyValue):
            assert kv.client.ttl(key) == -1  # no expiry asked: kept for ever
            assert 200 < kv.client.ttl(other) <= 300
    finally:
        kv.delete(other)


def test_a_board_holds_names_until_removed(kv, key):
    kv.board_put(key, "one", "1")
    kv.board_put(key, "two", "2")
    assert kv.board(key) == {"one": "1", "two": "2"}
    assert kv.board_get(key, "two") == "2"
    kv.board_remove(key, "one", "absent")
    assert kv.board(key) == {"two": "2"}
    assert kv.board_get(key, "one") is None


def test_a_lease_is_held_by_one_holder_renewed_by_it_and_released_only_by_it(kv, key):
    assert kv.lease(key, "a", 30) and kv.get(key) == "a"
    assert not kv.lease(key, "b", 30), "another holder cannot take it"
    assert kv.lease(key, "a", 30), "the holder renews it"
    assert not kv.release(key, "b") and kv.get(key) == "a"
    assert kv.release(key, "a") and kv.get(key) is None
    assert kv.lease(key, "b", 30)


def test_add_sets_only_an_absent_key(kv, key):
    assert kv.add(key, "first", 30)
    assert not kv.add(key, "second", 30)
    assert kv.get(key) == "first"


def test_async_clients_of_ended_loops_are_dropped(db):
    import keyvalue

    if not isinstance(store(), RedisKeyValue):
        pytest.skip("the integration profile's Redis store")

    async def ping():
        return await keyvalue.async_redis_client().ping()

    # Sync code (a worker's broadcast) runs a new event loop per async_to_sync call.
    for _ in range(20):
        assert async_to_sync(ping)()
    assert len(keyvalue._async_clients) <= 1
