"""A ban reaches the banned player's sockets on every process: banned from a third
process (as the admin would), the player's match socket on the process that does
not run the match, and their lobby socket on the one that does, close within a
second with 4003 and the reason; the opponent sees them disconnected."""

import asyncio
import json
import sys
import time
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import ROOT
from tests.e2e.test_failover import socket_to
from tests.e2e.test_match_over_servers import next_frame

pytestmark = pytest.mark.slow

BAN = """
import time
from games import services
from games.models import Player
player = Player.objects.get(pk={player_id})
print("asked", time.time(), flush=True)
services.ban_player(player, "cheating")
"""


async def act_elsewhere(env, script):
    """Run an operator's `script` in a process of its own (no sockets there), as the admin
    would; when the script said it asked (its "asked <time>" line)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        script,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    # (The shell may print a line of its own first.)
    asked = [line for line in out.decode().splitlines() if line.startswith("asked ")]
    return float(asked[0].split()[1])


@asynccontextmanager
async def started_with_bob_elsewhere(first, second, lobby_host):
    """A Connect Four match started between Alice, on `first` (which runs it: she connects
    first), and Bob, whose match socket is on `second` and lobby socket on `lobby_host`.
    Yields (match id, Bob's player id, Bob's client, Alice's, Bob's and Bob's lobby socket)."""
    alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
    alice.play_as_guest()
    bob_id = bob.play_as_guest()["id"]
    match = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
    bob.post_json(f"/api/matches/{match}/join/")
    async with socket_to(first, match, alice) as a:
        await next_frame(a, "welcome")
        async with (
            socket_to(second, match, bob) as b,
            connect(
                f"ws://{lobby_host}/ws/lobby/",
                origin=f"http://{lobby_host}",
                additional_headers={"Cookie": f"sessionid={bob.cookie('sessionid')}"},
            ) as b_lobby,
        ):
            await next_frame(b, "welcome")
            await next_frame(b_lobby, "lobby")
            for ws in (a, b):
                await ws.send(json.dumps({"type": "ready"}))
            # Both ready and connected: the match starts.
            await next_frame(a, "state", lambda f: f["events"][0]["kind"] == "started")
            yield match, bob_id, bob, a, b, b_lobby


async def closed(ws):
    """Read until the server closes; (close code, the `closing` frames, when)."""
    closing = []
    try:
        async with asyncio.timeout(10):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "closing":
                    closing.append(frame)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code, closing, time.time()


async def test_a_ban_closes_the_players_sockets_on_every_process(
    two_sites, tmp_path, redis_url, redis_prefix
):
    first, second, _ = two_sites
    # Bob's lobby socket is on the process that runs the match, his match socket on the other.
    async with started_with_bob_elsewhere(first, second, first) as (
        match,
        bob_id,
        bob,
        a,
        b,
        b_lobby,
    ):
        env = redis_env(tmp_path, redis_url, redis_prefix)
        watching = asyncio.gather(closed(b), closed(b_lobby))
        asked_at = await act_elsewhere(env, BAN.format(player_id=bob_id))
        (
            (match_code, match_closing, match_at),
            (lobby_code, lobby_closing, lobby_at),
        ) = await watching
        reason = {"type": "closing", "code": 4003, "reason": "You are banned: cheating"}
        assert (match_code, match_closing) == (4003, [reason])
        assert (lobby_code, lobby_closing) == (4003, [reason])
        assert match_at - asked_at < 1 and lobby_at - asked_at < 1, (
            match_at - asked_at,
            lobby_at - asked_at,
        )
        await next_frame(
            a, "players", lambda f: [p["connected"] for p in f["players"]] == [True, False]
        )
        # Reconnecting is refused: the seat stays empty.
        async with socket_to(second, match, bob) as again:
            code, closing, _ = await closed(again)
            assert code == 4003 and closing == [reason]
