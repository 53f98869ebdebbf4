"""Matchmaking across daphne processes: no player double-booked, no place lost unseen, and
"Play now" without a lobby socket meeting a player queued on another process.

Three daphne processes share one Redis and one database file. Thirty players,
spread over the three, queue at the same moment over their lobby sockets, for
Connect Four (pairs) and Arena (2-8); some leave the queue again at once,
racing the matchers. Every process runs its own matcher for its own players'
games, often, so they take groups concurrently from the same queues.

And a process that stalls past the entries' lifetime loses its players' places
to another process's matcher; when it recovers, those players are told.
"""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
from collections import Counter, defaultdict

import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import RUNNING, daphne, prepare

PROCESSES = 3
PLAYERS = 30
CONNECT_FOUR = 18  # players 0-17; the others play arena
LEAVERS = {i for i in range(PLAYERS) if i % 5 == 0}
SETTLE_SECONDS = 20.0


@pytest.fixture
def three_sites(tmp_path, redis_url, redis_prefix):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    # Frequent rounds, so the processes' matchers race each other; arena starts with
    # fewer than eight after a second, so every arena player finds a group.
    env.update(MATCHMAKING_INTERVAL_SECONDS="0.05", MATCHMAKING_FILL_SECONDS="1")
    prepare(env)
    with daphne(env) as a, daphne(env) as b, daphne(env) as c:
        yield [f"127.0.0.1:{port}" for port in (a, b, c)], tmp_path / "db.sqlite3"


def game_of(i):
    return "connect_four" if i < CONNECT_FOUR else "arena"


class Player:
    """One person on one process's lobby socket, and every frame they were sent."""

    def __init__(self, index, host, client, player_id):
        self.index, self.host, self.client, self.id = index, host, client, player_id
        self.frames = []
        self.seen = 0  # frames already looked at by `next`
        self.arrived = asyncio.Event()
        self.left = False  # the server confirmed "unqueued"

    def of_type(self, kind):
        return [f for f in self.frames if f["type"] == kind]

    async def run(self, ready, stop, progress):
        async with connect(
            f"ws://{self.host}/ws/lobby/",
            origin=f"http://{self.host}",
            additional_headers={"Cookie": f"sessionid={self.client.cookie('sessionid')}"},
        ) as ws:
            reader = asyncio.ensure_future(self._read(ws, progress))
            try:
                await self.next("lobby")
                await ready.wait()  # every socket is open: now all queue at once
                await ws.send(json.dumps({"type": "queue", "game": game_of(self.index)}))
                await self.next("queued")
                if self.index in LEAVERS:
                    await ws.send(json.dumps({"type": "unqueue"}))
                    # It left, or a matcher took it first ("matching"): then it gets matched.
                    reply = await self.next("unqueued", "error")
                    self.left = reply["type"] == "unqueued"
                    assert self.left or reply["code"] == "matching", reply
                await stop.wait()
                # The pong comes after every frame this socket was sent before the ping.
                await ws.send(json.dumps({"type": "ping", "id": 1}))
                await self.next("pong")
            finally:
                reader.cancel()

    async def _read(self, ws, progress):
        async for message in ws:
            self.frames.append(json.loads(message))
            self.arrived.set()
            progress.set()

    async def next(self, *kinds):
        """The first frame of one of `kinds` after those already looked at."""
        async with asyncio.timeout(10):
            while True:
                while self.seen < len(self.frames):
                    frame = self.frames[self.seen]
                    self.seen += 1
                    if frame["type"] in kinds:
                        return frame
                self.arrived.clear()
                await self.arrived.wait()


def seats_in(database):
    """(player id, match id, game, seats) of every seat in the database."""
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT p.player_id, m.id, m.game, m.max_players"
            " FROM games_participant p JOIN games_match m ON m.id = p.match_id"
        ).fetchall()


def settled(players):
    """Everyone who can be matched was: per game, at most one player still waits."""
    waiting = Counter(game_of(p.index) for p in players if not p.left and not p.of_type("matched"))
    return all(count <= 1 for count in waiting.values())


async def test_concurrent_matchmaking_from_several_processes_never_double_books_a_player(
    three_sites,
):
    hosts, database = three_sites
    players = []
    for i in range(PLAYERS):
        host = hosts[i % PROCESSES]
        client = SiteClient(f"http://{host}")
        players.append(Player(i, host, client, client.play_as_guest()["id"]))

    ready, stop, progress = asyncio.Barrier(PLAYERS + 1), asyncio.Event(), asyncio.Event()
    tasks = [asyncio.ensure_future(p.run(ready, stop, progress)) for p in players]

    async def frames_until(done):
        while not done():
            progress.clear()
            await progress.wait()
            for task in tasks:
                if task.done():
                    task.result()  # a player's failure, raised here

    async with asyncio.timeout(SETTLE_SECONDS):
        await ready.wait()
        await frames_until(lambda: settled(players))
        # Nobody can be grouped any more. Matches are announced after commit, so every
        # player seated by now hears of it; wait for the announcements still on their way.
        seated = {player_id for player_id, *_ in seats_in(database)}
        await frames_until(lambda: all(p.of_type("matched") for p in players if p.id in seated))
    stop.set()
    await asyncio.gather(*tasks)

    # Every player was told of at most one match, and a player who left, of none.
    announced = {}
    for p in players:
        matched = p.of_type("matched")
        assert len(matched) <= 1, f"player {p.index} was matched {len(matched)} times"
        if matched:
            assert not p.left, f"player {p.index} left the queue and was matched anyway"
            announced[p.id] = matched[0]["match"]
            assert announced[p.id]["game"] == game_of(p.index)
    left = {p.id for p in players if p.left}
    assert left and len(announced) >= PLAYERS - len(LEAVERS) - 2

    by_player = defaultdict(list)
    by_match = defaultdict(list)
    for player_id, match_id, game, max_players in seats_in(database):
        by_player[player_id].append(match_id)
        by_match[(match_id, game, max_players)].append(player_id)
    # No player sits in two matches, and each sits in the match they were told of.
    assert all(len(matches) == 1 for matches in by_player.values()), by_player
    assert {pid: ms[0].replace("-", "") for pid, ms in by_player.items()} == {
        pid: m["id"].replace("-", "") for pid, m in announced.items()
    }
    assert not left & set(by_player)
    # Every match has a legal number of players, all of them seated.
    for (_, game, max_players), seated in by_match.items():
        assert len(seated) == max_players
        assert len(seated) == 2 if game == "connect_four" else 2 <= len(seated) <= 8


@pytest.fixture
def two_sites_with_short_places(tmp_path, redis_url, redis_prefix):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    # Entries live a second; arena waits a minute for a full group, so two players
    # can share its queue without being paired.
    env.update(
        MATCHMAKING_TTL_SECONDS="1",
        MATCHMAKING_INTERVAL_SECONDS="0.1",
        MATCHMAKING_FILL_SECONDS="60",
    )
    prepare(env)
    with daphne(env) as a, daphne(env) as b:
        yield f"127.0.0.1:{a}", f"127.0.0.1:{b}"


async def frames_until(ws, kind):
    """The frames the socket receives up to the first of type `kind`, that one last."""
    frames = []
    async with asyncio.timeout(10):
        while not frames or frames[-1]["type"] != kind:
            frames.append(json.loads(await ws.recv()))
    return frames


async def queued_lobby_socket(stack, host, game):
    client = SiteClient(f"http://{host}")
    client.play_as_guest()
    ws = await stack.enter_async_context(
        connect(
            f"ws://{host}/ws/lobby/",
            origin=f"http://{host}",
            additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
        )
    )
    await frames_until(ws, "lobby")
    await ws.send(json.dumps({"type": "queue", "game": game}))
    await frames_until(ws, "queued")
    return ws


async def test_players_whose_process_stalled_past_their_places_are_told_when_it_recovers(
    two_sites_with_short_places,
):
    stalling, other = two_sites_with_short_places
    async with contextlib.AsyncExitStack() as stack:
        alice = await queued_lobby_socket(stack, stalling, "arena")
        bob = await queued_lobby_socket(stack, other, "arena")
        process = RUNNING[int(stalling.rsplit(":", 1)[1])]
        os.kill(process.pid, signal.SIGSTOP)
        try:
            # The other process's matcher drops alice's entry once it has expired.
            await asyncio.sleep(2.5)  # a stall of that long, not a wait for an event
        finally:
            os.kill(process.pid, signal.SIGCONT)
        unqueued = (await frames_until(alice, "unqueued"))[-1]
        assert unqueued["reason"] == "Your place in the queue lapsed; press Play now again."
        # Bob's process kept his place renewed: he is still searching.
        await bob.send(json.dumps({"type": "ping", "id": 1}))
        assert "unqueued" not in [f["type"] for f in await frames_until(bob, "pong")]


@pytest.fixture
def two_sites(tmp_path, redis_url, redis_prefix):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with daphne(env) as a, daphne(env) as b:
        yield f"127.0.0.1:{a}", f"127.0.0.1:{b}"


@pytest.mark.parametrize("first", ["quick join", "queue"])
async def test_a_quick_join_on_one_process_meets_a_player_queued_on_another(two_sites, first):
    # "Play now" without a lobby socket (POST /api/play/) on one process, with one on
    # the other; whoever comes first, they end in the same match.
    queueing, quick = two_sites
    joiner = SiteClient(f"http://{quick}")
    joiner_id = joiner.play_as_guest()["id"]
    async with contextlib.AsyncExitStack() as stack:
        if first == "quick join":
            opened = await asyncio.to_thread(
                joiner.post_json, "/api/play/", {"game": "connect_four"}
            )
            ws = await queued_lobby_socket(stack, queueing, "connect_four")
        else:
            ws = await queued_lobby_socket(stack, queueing, "connect_four")
            opened = await asyncio.to_thread(
                joiner.post_json, "/api/play/", {"game": "connect_four"}
            )
        assert [p["player"]["id"] for p in opened["participants"]] == [joiner_id]
        matched = (await frames_until(ws, "matched"))[-1]["match"]
    assert matched["id"] == opened["id"]
    seated = joiner.get_json(f"/api/matches/{opened['id']}/")["participants"]
    assert len(seated) == 2 and seated[0]["player"]["id"] == joiner_id
