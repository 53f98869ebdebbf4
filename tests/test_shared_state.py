"""The shared state's two forms: picked once from REDIS_URL, the leases' rules the same
in Redis and in memory, and who is online read from either."""

import asyncio

import pytest
import redis
import redis.asyncio as aredis

from games import cluster
from games.cluster import leases, presence, tickets
from games.cluster import redis as cluster_redis
from games.cluster.leases import Lease, LocalLeases, RedisLeases, Renewal
from games.cluster.presence import Connection

MATCH = "7f1c"


@pytest.fixture
def redis_settings(settings, redis_url, redis_prefix):
    settings.REDIS_URL = redis_url
    settings.REDIS_PREFIX = redis_prefix
    return settings


def test_without_redis_url_every_piece_is_this_process_s_own(settings):
    settings.REDIS_URL = ""
    state = cluster.shared()
    assert state.is_local
    assert cluster.shared() is state  # picked once, not at every call
    assert isinstance(state.tickets, tickets.LocalTickets)
    assert isinstance(state.leases, LocalLeases)


def test_a_new_redis_url_makes_the_choice_again(redis_settings, redis_url, redis_prefix):
    state = cluster.shared()
    assert not state.is_local
    ticket = tickets.issue(5, "m-1")
    # In Redis, where the process the client's socket reaches will look for it.
    stored = redis.Redis.from_url(redis_url).get(f"{redis_prefix}:ticket:{ticket}")
    assert stored == b"5:m-1"

    redis_settings.REDIS_URL = ""
    assert cluster.shared().is_local
    assert isinstance(cluster.shared().tickets, tickets.LocalTickets)


async def test_a_local_ticket_is_redeemed_once_and_for_its_match_only(settings):
    settings.REDIS_URL = ""
    ticket = tickets.issue(3, "m-1")
    assert await tickets.redeem(ticket, "m-2") is None  # consumed, though refused
    ticket = tickets.issue(3, "m-1")
    assert await tickets.redeem(ticket, "m-1") == 3
    assert await tickets.redeem(ticket, "m-1") is None


@pytest.fixture(params=["redis", "local"])
def store(request, settings):
    """Both implementations keep the same rules, so every lease test runs on both."""
    if request.param == "local":
        return LocalLeases()
    request.getfixturevalue("redis_settings")
    return RedisLeases()


async def test_a_claim_is_exclusive_and_its_token_is_above_the_floor(store):
    lease = await store.claim(MATCH, "here", floor=41)
    assert lease == Lease(MATCH, "here", 42)
    assert await store.claim(MATCH, "there") is None
    assert await store.holder(MATCH) == "here|42"
    assert await asyncio.to_thread(store.holder_sync, MATCH) == "here"


async def test_a_successor_gets_a_larger_token_and_the_old_holder_hears_it(store):
    first = await store.claim(MATCH, "here")
    await store.release(first)
    assert await store.renew(first) is Renewal.VANISHED
    second = await store.claim(MATCH, "there")
    assert second.token > first.token
    assert await store.renew(first) is Renewal.TAKEN
    assert await store.renew(second) is Renewal.RENEWED
    assert await store.reestablish(first) is None  # held: nobody takes it from its holder
    await store.release(first)  # not its holder: nothing happens
    assert await store.holder(MATCH) == f"there|{second.token}"


async def test_a_dead_holder_s_lease_is_taken_over_only_while_it_is_still_held(store):
    dead = await store.claim(MATCH, "here")
    assert await store.claim(MATCH, "there", replacing="here|999") is None  # not the one held
    taken = await store.claim(MATCH, "there", replacing=dead.value)
    assert taken is not None and taken.token > dead.token
    assert await store.renew(dead) is Renewal.TAKEN  # a holder alive after all stops
    # A third process that judged the same holder dead comes too late: no second takeover.
    assert await store.claim(MATCH, "elsewhere", replacing=dead.value) is None
    assert await store.holder(MATCH) == taken.value


async def test_redis_tells_which_holders_have_a_process_connected(redis_settings, redis_url):
    """A process's pub/sub connection carries its holder id as its name; once the
    connection closes (the process was killed), the holder is no longer listed."""
    client = aredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.connect()
    assert await cluster_redis.name_connection(pubsub.connection, "host:1:alive")
    await pubsub.subscribe(f"{redis_settings.REDIS_PREFIX}:topic")
    try:
        assert "host:1:alive" in await leases.connected()
    finally:
        await pubsub.aclose()
        await client.aclose()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while "host:1:alive" in await leases.connected():
        assert loop.time() < deadline, "a closed connection was still listed"
        await asyncio.sleep(0.02)  # polling Redis, which drops the client once it reads EOF


@pytest.fixture
def redis_refusing_client(redis_settings, redis_url):
    """A Redis user that may not run CLIENT SETNAME or CLIENT LIST, as on some managed
    Redis services; the ACL user is deleted afterwards."""
    admin = redis.Redis.from_url(redis_url)
    user = f"{redis_settings.REDIS_PREFIX}-user"
    admin.acl_setuser(
        user,
        enabled=True,
        passwords=["+secret"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-client|setname", "-client|list"],
    )
    redis_settings.REDIS_URL = redis_url.replace("redis://", f"redis://{user}:secret@", 1)
    yield
    admin.acl_deluser(user)


async def test_a_redis_refusing_client_names_leaves_dead_holders_to_their_leases(
    redis_refusing_client, settings, caplog
):
    client = aredis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    await pubsub.connect()
    try:
        assert not await cluster_redis.name_connection(pubsub.connection, "host:1:alive")
        await pubsub.subscribe(f"{settings.REDIS_PREFIX}:topic")  # the connection still works
        for _ in range(2):
            assert await leases.connected() is None  # nobody can be judged dead
    finally:
        await pubsub.aclose()
        await client.aclose()
    refusals = [r.getMessage() for r in caplog.records if "Redis refuses CLIENT" in r.getMessage()]
    assert [m.split(" (")[0] for m in refusals] == [
        "Redis refuses CLIENT SETNAME",
        "Redis refuses CLIENT LIST",
    ]  # once each, however often asked


async def test_without_redis_nobody_is_known_to_be_connected(settings):
    settings.REDIS_URL = ""
    assert await leases.connected() is None  # so only a lease's expiry ends it


async def test_a_vanished_lease_is_taken_again_unless_claimed_since(store):
    first = await store.claim(MATCH, "here")
    await store.release(first)
    again, lost = await store.reestablish(first)
    assert (again.token, lost) == (first.token + 1, False)
    await store.release(again)
    later = await store.claim(MATCH, "there")
    await store.release(later)
    assert await store.reestablish(again) is None  # another process ran it since


async def test_a_finished_match_forgets_its_counter(store):
    lease = await store.claim(MATCH, "here", floor=7)
    await store.release(lease, match_over=True)
    # Only the database's fence (the floor) keeps tokens growing now.
    assert (await store.claim(MATCH, "there", floor=0)).token == 1


async def test_a_lease_not_renewed_expires(store, settings):
    settings.MATCH_LEASE_SECONDS = 0.2
    lease = await store.claim(MATCH, "here")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await store.holder(MATCH) is not None:
        assert loop.time() < deadline, "the lease never expired"
        await asyncio.sleep(0.02)  # polling for the expiry, which is time passing
    assert await store.renew(lease) is Renewal.VANISHED


async def test_the_runtime_s_calls_reach_the_picked_leases(settings):
    settings.REDIS_URL = ""
    lease = await leases.claim(MATCH, "here")
    assert leases.holder_sync(MATCH) == "here"
    await leases.release(lease)
    assert leases.holder_sync(MATCH) is None


async def test_without_redis_this_process_s_sockets_are_who_is_online(settings):
    settings.REDIS_URL = ""
    local = presence.LocalPresence()
    socket = Connection(4, "m-1", "here", "specific.a!1")
    try:
        await local.add(socket)
        assert await asyncio.to_thread(presence.current) == [socket]
        assert local.forget(socket) is None  # nothing shared to remove
        assert await asyncio.to_thread(presence.current) == []
    finally:
        local.stop()
        presence.reset_for_tests()


async def test_with_redis_every_process_reads_the_shared_list(redis_settings):
    local = presence.LocalPresence()
    socket = Connection(4, "m-1", "elsewhere", "specific.b!1")
    try:
        await local.add(socket)
        local.connections.clear()  # a reader with no socket of its own still sees it
        assert await asyncio.to_thread(presence.current) == [socket]
        removal = local.forget(socket)
        await removal()
        assert await asyncio.to_thread(presence.current) == []
    finally:
        local.stop()
        presence.reset_for_tests()
