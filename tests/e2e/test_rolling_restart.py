"""A rolling restart of every daphne process during live matches loses no match.

Two processes serve three Connect Four matches, each with one player on either
process. Like a deploy, a new process starts and an old one gets SIGTERM, then
again for the other old one. Players whose socket is closed with 4012 reconnect
to a process that is up (what a load balancer does for them); every match
finishes with its result stored, continuing from the moves made before.
"""

import asyncio
import contextlib
import json
import signal

from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import RUNNING, daphne, prepare
from tests.e2e.test_failover import socket_to

MATCHES = 3
TIMEOUT = 15.0
EXIT_BOUND = 15.0  # DRAIN_SECONDS (10) plus daphne's own shutdown
RESTARTING = 4012


class Seat:
    """One player's socket, reconnecting to a live process when told to."""

    def __init__(self, client, match, up):
        self.client, self.match, self.up = client, match, up
        self.ws = None
        self.reconnections = 0

    async def connect(self):
        self.ws = await socket_to(self.up[-1], self.match, self.client).__aenter__()

    async def board(self, moves):
        """The state once `moves` moves are made, reconnecting through restarts."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                try:
                    frame = json.loads(await self.ws.recv())
                except ConnectionClosed:
                    assert self.ws.close_code == RESTARTING
                    self.reconnections += 1
                    await self.connect()
                    continue
                state = frame.get("state") if frame["type"] in ("welcome", "state") else None
                if state and state["moves"] >= moves:
                    assert state["moves"] == moves, "a move was replayed or invented"
                    return state

    async def move(self, moves, column):
        """Play move number `moves`; a socket closed by a drain reconnects and plays then."""
        while True:
            try:
                await self.ws.send(json.dumps({"type": "input", "data": {"column": column}}))
                return
            except ConnectionClosed:
                await self.board(moves)  # reads up to the close, reconnects, sees the board

    async def result(self):
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame["type"] == "result":
                    return frame

    async def close(self):
        if self.ws is not None:
            await self.ws.close()


async def play(seats, moves, columns):
    """Make moves `moves`.. with the given columns; the seat to move plays."""
    for n, column in enumerate(columns, start=moves):
        state = await seats[0].board(n)
        await seats[1].board(n)  # both see every move, wherever they are connected
        await seats[state["to_move"]].move(n, column)


async def restart(env, stack, up, old):
    """Start a new process, then drain `old` with SIGTERM and wait for it to exit."""
    port = stack.enter_context(daphne(env))
    up.append(f"127.0.0.1:{port}")  # reconnections go to the newest process from now on
    process = RUNNING[int(old.rsplit(":", 1)[1])]
    process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(process.wait, EXIT_BOUND)
    up.remove(old)


async def test_a_rolling_restart_of_every_process_loses_no_match(tmp_path, redis_url, redis_prefix):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with contextlib.ExitStack() as stack:
        first, second = (f"127.0.0.1:{stack.enter_context(daphne(env))}" for _ in range(2))
        up = [first, second]
        matches = []
        for _ in range(MATCHES):
            alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
            alice.play_as_guest()
            bob.play_as_guest()
            match = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
            bob.post_json(f"/api/matches/{match}/join/")
            seats = [Seat(alice, match, [first]), Seat(bob, match, [second])]
            for seat in seats:
                await seat.connect()
                seat.up = up  # from now on, reconnect wherever the balancer sends them
                await seat.ws.send(json.dumps({"type": "ready"}))
            matches.append((match, alice, seats))
        try:
            # Seat 0 takes column 0 and seat 1 column 1: seat 0 wins on the seventh move.
            await asyncio.gather(*(play(seats, 0, [0, 1]) for _, _, seats in matches))
            await restart(env, stack, up, first)
            await asyncio.gather(*(play(seats, 2, [0, 1]) for _, _, seats in matches))
            await restart(env, stack, up, second)
            await asyncio.gather(*(play(seats, 4, [0, 1, 0]) for _, _, seats in matches))
            for match, _, seats in matches:
                results = [await seat.result() for seat in seats]
                assert results[0] == results[1]
                assert "four in a row" in results[0]["summary"]
                assert (
                    SiteClient(f"http://{up[0]}").get_json(f"/api/matches/{match}/")["status"]
                    == "finished"
                )
            # Every player was moved at least once: both original processes are gone.
            assert all(seat.reconnections >= 1 for _, _, seats in matches for seat in seats)
        finally:
            for _, _, seats in matches:
                for seat in seats:
                    await seat.close()
