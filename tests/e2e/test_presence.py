"""Presence across processes: everyone's sockets are listed, and the players of a
process that died disappear within the presence TTL, without anyone cleaning up."""

import asyncio
import signal

import pytest

from games.cluster import presence
from games.cluster import redis as cluster_redis
from tests.e2e.conftest import PRESENCE_TTL
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import RUNNING
from tests.e2e.test_failover import socket_to
from tests.e2e.test_match_over_servers import next_frame


@pytest.fixture
def read_presence(settings, redis_url, redis_prefix):
    """Read presence as the game servers publish it (same Redis, same key prefix)."""
    settings.REDIS_URL = redis_url
    settings.REDIS_PREFIX = redis_prefix
    cluster_redis._sync_client = None
    yield lambda: presence.by_match(presence.current())
    cluster_redis._sync_client = None


async def test_the_players_of_a_dead_process_leave_presence_within_the_ttl(
    two_sites, read_presence
):
    first, second, _ = two_sites
    alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
    alice_id = alice.play_as_guest()["id"]
    bob_id = bob.play_as_guest()["id"]
    match = alice.post_json("/api/matches/", {"game": "arena"})["id"]
    bob.post_json(f"/api/matches/{match}/join/")

    a = await socket_to(first, match, alice).__aenter__()
    await next_frame(a, "welcome")
    async with socket_to(second, match, bob) as b:
        await next_frame(b, "welcome")
        assert read_presence()[match] == {alice_id, bob_id}

        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        RUNNING[int(first.rsplit(":", 1)[1])].send_signal(signal.SIGKILL)
        while alice_id in read_presence().get(match, set()):
            assert loop.time() - killed_at <= PRESENCE_TTL + 1, "still listed past the TTL"
            await asyncio.sleep(0.2)  # polling what a reader would see
        assert read_presence()[match] == {bob_id}  # the living process keeps its own
