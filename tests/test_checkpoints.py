"""Checkpoints in Redis: fenced by the lease, and the input log whole across checkpoints."""

import msgspec

from games.cluster import checkpoints, leases
from games.cluster import redis as cluster_redis

MATCH = "6a1f0c7e3b2d4e5f8a9b0c1d2e3f4a5b"


async def test_a_checkpoint_keeps_the_whole_input_log_in_one_push_per_save(redis_layer):
    lease = await leases.claim(MATCH, "here")
    assert await checkpoints.save(lease, {"tick": 20}, [[3, 0, {"column": 1}], [9, 1, None]])
    assert await checkpoints.save(lease, {"tick": 40}, [])  # nothing new: the log stays
    assert await checkpoints.save(lease, {"tick": 60}, [[41, 0, {"column": 2}]])
    payload, log = await checkpoints.load(MATCH)
    assert payload == {"tick": 60}
    assert log == [[3, 0, {"column": 1}], [9, 1, None], [41, 0, {"column": 2}]]
    assert await cluster_redis.async_client().llen(cluster_redis.key("checkpoint-log", MATCH)) == 2


async def test_a_runner_that_lost_its_lease_cannot_checkpoint(redis_layer):
    lease = await leases.claim(MATCH, "here")
    await leases.release(lease)
    successor = await leases.claim(MATCH, "there")
    assert not await checkpoints.save(lease, {"tick": 99}, [[98, 0, None]])
    assert await checkpoints.save(successor, {"tick": 100}, [])
    payload, log = await checkpoints.load(MATCH)
    assert payload == {"tick": 100} and log == []


async def test_a_log_written_one_entry_per_element_by_an_older_release_still_loads(redis_layer):
    lease = await leases.claim(MATCH, "here")
    client = cluster_redis.async_client()
    log_key = cluster_redis.key("checkpoint-log", MATCH)
    await client.rpush(log_key, msgspec.msgpack.encode([1, 0, {"column": 3}]))
    assert await checkpoints.save(lease, {"tick": 20}, [[5, 1, {"column": 4}]])
    _, log = await checkpoints.load(MATCH)
    assert log == [[1, 0, {"column": 3}], [5, 1, {"column": 4}]]
