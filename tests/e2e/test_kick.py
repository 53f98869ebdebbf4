"""A kick reaches the kicked player's socket on any process: kicked from a third process
(as the admin's console would), the player's match socket on the process that does not
run the match closes within a second with 4005 and the reason, while their lobby socket
stays open; the opponent sees them disconnected, and reconnecting is refused."""

import asyncio
import json
import sys
import time

import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import ROOT
from tests.e2e.test_ban import closed
from tests.e2e.test_failover import socket_to
from tests.e2e.test_match_over_servers import next_frame

pytestmark = pytest.mark.slow

KICK = """
import time
from games import services
print("asked", time.time(), flush=True)
services.kick_player("{match_id}", {player_id}, "abusive chat", by=None)
"""


async def kick_elsewhere(env, match_id, player_id):
    """Kick from a process of its own (no sockets there); when the kick was asked for."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        KICK.format(match_id=match_id, player_id=player_id),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    asked = [line for line in out.decode().splitlines() if line.startswith("asked ")]
    return float(asked[0].split()[1])


async def test_a_kick_closes_the_players_match_socket_on_the_other_process(
    two_sites, tmp_path, redis_url, redis_prefix
):
    first, second, _ = two_sites
    alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
    alice.play_as_guest()
    bob_id = bob.play_as_guest()["id"]
    match = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
    bob.post_json(f"/api/matches/{match}/join/")
    # Alice connects first, so the first process runs the match; Bob is on the second.
    async with socket_to(first, match, alice) as a:
        await next_frame(a, "welcome")
        async with (
            socket_to(second, match, bob) as b,
            connect(
                f"ws://{second}/ws/lobby/",
                origin=f"http://{second}",
                additional_headers={"Cookie": f"sessionid={bob.cookie('sessionid')}"},
            ) as b_lobby,
        ):
            await next_frame(b, "welcome")
            await next_frame(b_lobby, "lobby")
            for ws in (a, b):
                await ws.send(json.dumps({"type": "ready"}))
            await next_frame(a, "state", lambda f: f["events"][0]["kind"] == "started")

            env = redis_env(tmp_path, redis_url, redis_prefix)
            watching = asyncio.create_task(closed(b))
            asked_at = await kick_elsewhere(env, match, bob_id)
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
