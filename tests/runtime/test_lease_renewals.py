"""Lease renewals on a busy process: they never wait for the shared Redis pool, and a
renewal its caller gave up on leaves no connection behind (real Redis)."""

import asyncio

import pytest

from games.cluster import leases
from games.cluster import redis as cluster_redis

MATCH = "3c1d9e0f5a7b4c2d8e6f1a2b3c4d5e6f"


async def test_a_renewal_does_not_wait_for_the_shared_pool(settings, redis_layer):
    """On a loaded process the pool's callers (checkpoints, presence, states) may hold
    every connection; a command through the pool then waits up to POOL_WAIT_SECONDS."""
    settings.MATCH_LEASE_SECONDS = 3.0
    settings.REDIS_MAX_CONNECTIONS = 1
    lease = await leases.claim(MATCH, "here")
    assert lease is not None
    pool = cluster_redis.async_client().connection_pool
    held = await pool.get_connection()
    assert not pool.can_get_connection()
    try:
        async with asyncio.timeout(1.0):  # a third of the lease: its renewal period
            assert await leases.renew(lease) is leases.Renewal.RENEWED
    finally:
        await pool.release(held)
    ttl = await cluster_redis.async_client().pttl(cluster_redis.key("lease", MATCH))
    assert ttl > 2000


async def test_a_renewal_its_caller_gave_up_on_leaves_no_connection_behind(redis_layer):
    lease = await leases.claim(MATCH, "here")
    assert lease is not None
    for _ in range(20):
        renewal = asyncio.ensure_future(leases.renew(lease))
        await asyncio.sleep(0)  # one turn of the loop: the renewal is handed to the thread
        renewal.cancel()
    assert await leases.renew(lease) is leases.Renewal.RENEWED
    pool = leases._renewer()._client.connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1


async def test_a_renewal_still_tells_a_lease_taken_from_one_vanished(redis_layer):
    lease = await leases.claim(MATCH, "here")
    assert lease is not None
    await leases.release(lease)
    assert await leases.renew(lease) is leases.Renewal.VANISHED
    other = await leases.claim(MATCH, "there")
    assert other is not None
    assert await leases.renew(lease) is leases.Renewal.TAKEN
    assert await leases.renew(other) is leases.Renewal.RENEWED


async def test_renewals_without_redis_are_unavailable(settings, redis_layer):
    lease = leases.Lease(MATCH, "here", 1)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with pytest.raises(cluster_redis.Unavailable):
        await leases.renew(lease)
