"""A kick reaches the kicked player's socket on any process: kicked from a third process
(as the admin's console would), the player's match socket on the process that does not
run the match closes within a second with 4005 and the reason, while their lobby socket
stays open; the opponent sees them disconnected, and reconnecting is refused."""

import asyncio
import json
import time

import pytest

from tests.e2e.conftest import redis_env
from tests.e2e.test_ban import act_elsewhere, closed, started_with_bob_elsewhere
from tests.e2e.test_failover import socket_to
from tests.e2e.test_match_over_servers import next_frame

pytestmark = pytest.mark.slow

KICK = """
import time
from games import services
print("asked", time.time(), flush=True)
services.kick_player("{match_id}", {player_id}, "abusive chat", by=None)
"""


async def test_a_kick_closes_the_players_match_socket_on_the_other_process(
    two_sites, tmp_path, redis_url, redis_prefix
):
    first, second, _ = two_sites
    # Both of Bob's sockets are on the process that does not run the match.
    async with started_with_bob_elsewhere(first, second, second) as (
        match,
        bob_id,
        bob,
        a,
        b,
        b_lobby,
    ):
        env = redis_env(tmp_path, redis_url, redis_prefix)
        watching = asyncio.create_task(closed(b))
        asked_at = await act_elsewhere(env, KICK.format(match_id=match, player_id=bob_id))
        code, closing, closed_at = await watching
        reason = "An operator removed you from this match: abusive chat"
        assert (code, closing) == (4005, [{"type": "closing", "code": 4005, "reason": reason}])
        assert closed_at - asked_at < 1, closed_at - asked_at
        # Not a ban: the lobby socket answers as before.
        await b_lobby.send(json.dumps({"type": "ping", "id": 1}))
        pong = await next_frame(b_lobby, "pong")
        assert pong["id"] == 1 and time.time() - asked_at < 10
        await next_frame(
            a, "players", lambda f: [p["connected"] for p in f["players"]] == [True, False]
        )
        # Coming back to the match is refused, on either process.
        async with socket_to(first, match, bob) as again:
            code, closing, _ = await closed(again)
            assert code == 4003
            assert closing[0]["reason"] == "An operator removed you from this match."
