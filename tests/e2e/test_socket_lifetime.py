"""However a socket ends, a daphne process forgets it: its seat shows disconnected, and
nothing of it stays in Redis (presence, group members), in the process's registries
(supervisor, runner, lobby, matchmaking) or among its file descriptors."""

import asyncio
import json
import time
from urllib.parse import urlparse

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage

from tests.e2e.http_client import SiteClient
from tests.e2e.lifetime import (
    client_connections,
    connections_to,
    log_of,
    open_fds,
    redis_leftovers,
    registrations,
    reset,
    until,
)
from tests.e2e.servers import observed

TIMEOUT = 10
CROWD_TIMEOUT = 60
# Everything a socket leaves is gone this long after it ends (docs/security.md says
# "a few seconds"; the margin is for a loaded test machine).
CLEANUP_BOUND = 10
SOCKETS_PER_KIND = 500
CLIENTS_PER_KIND = 10
# Descriptors that may come and go on their own (a thread's, a log's): not per socket.
SPARE_FDS = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    tmp = tmp_path_factory.mktemp("lifetime")
    with observed(
        tmp,
        redis_url,
        "lifetime",
        # A thousand sockets from one address and a few players: caps off here.
        MAX_SOCKETS_PER_PLAYER="0",
        MAX_SOCKETS_PER_IP="0",
        MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP="0",
        MATCH_RECONNECT_GRACE_SECONDS="60",
    ) as running:
        yield running


def match_socket(host, match_id, client, **kwargs):
    return connect(
        f"ws://{host}/ws/match/{match_id}/",
        origin=f"http://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
        **kwargs,
    )


def lobby_socket(host, client, **kwargs):
    return connect(
        f"ws://{host}/ws/lobby/",
        origin=f"http://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
        **kwargs,
    )


async def frame_of(ws, kind, test=lambda f: True, timeout=TIMEOUT):
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and test(frame):
                return frame


async def closed_with(ws):
    async with asyncio.timeout(TIMEOUT):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def guest(host):
    client = SiteClient(f"http://{host}")
    client.play_as_guest()
    return client


@pytest.fixture
def honest_match(server):
    """A connect-four match of two guests, created and joined (sockets still to open)."""
    host = server["host"]
    alice, bob = guest(host), guest(host)
    match_id = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
    bob.post_json(f"/api/matches/{match_id}/join/")
    return match_id, alice, bob


def settled(server, expected, runners_at_most=None):
    """The registries of the process hold exactly `expected` (name -> count), and it runs
    at most `runners_at_most` runners (if given); the counts, or None."""
    counts = registrations(server["metrics"])
    if runners_at_most is not None and counts.get("runners", 0) > runners_at_most:
        return None
    return counts if all(counts.get(name) == value for name, value in expected.items()) else None


async def test_an_unknown_socket_path_is_closed_with_4404_and_no_traceback(server):
    async with connect(f"ws://{server['host']}/ws/nope/", origin=f"http://{server['host']}") as ws:
        closing = await frame_of(ws, "closing")
        assert closing["code"] == 4404
        assert await closed_with(ws) == 4404
    log = log_of(server["tmp"], server["port"])
    assert "No route found" not in log and "Traceback" not in log


@pytest.mark.slow
async def test_the_flood_close_racing_the_clients_own_close_logs_nothing(server, honest_match):
    """A client floods bad frames and closes at once: the server's 4008 meets a closing socket."""
    host = server["host"]
    match_id, alice, bob = honest_match
    async with match_socket(host, match_id, bob) as watcher:
        await frame_of(watcher, "welcome")

        async def flood_and_close(client):
            # The server stops reading a socket it closed for abuse: do not wait long for
            # it to answer our close.
            async with match_socket(host, match_id, client, close_timeout=1) as ws:
                await frame_of(ws, "welcome")
                for _ in range(40):  # past the strikes: the server closes it with 4008
                    await ws.send("not json")
            # leaving the block closes from our side while the server closes too

        stranger = guest(host)  # a spectator: any number of its sockets may watch
        for _ in range(15):
            await asyncio.gather(*(flood_and_close(stranger) for _ in range(4)))
        await flood_and_close(alice)
        # Alice's seat shows disconnected to Bob once her socket is gone.
        await frame_of(
            watcher, "players", lambda f: [p["connected"] for p in f["players"]] == [False, True]
        )
    await until(
        lambda: settled(server, {"supervisor": 0, "runner_seats": 0, "cleanup_pending": 0}),
        CLEANUP_BOUND,
        "no registrations left",
    )
    log = log_of(server["tmp"], server["port"])
    assert "Traceback" not in log and "closed protocol" not in log, log[-3000:]


async def open_all(opener, count, first_frame, parallel=50):
    """Open `count` sockets with `opener(i)`, `parallel` at a time, each past its first frame."""
    sockets = []
    gate = asyncio.Semaphore(parallel)

    async def one(i):
        async with gate:
            # What is tested is what the crowd leaves behind, not how fast it gets in: on
            # a busy machine a welcome behind 50 handshakes at a time may take longer
            # than one honest socket's bound, and daphne drops a handshake the
            # application has not answered within its handshake timeout (5 s); the
            # crowd tries again then, as the browser client does.
            for attempt in range(3):
                try:
                    ws = await opener(i)
                    break
                except (OSError, InvalidMessage):
                    if attempt == 2:
                        raise
            await frame_of(ws, first_frame, timeout=CROWD_TIMEOUT)
            sockets.append(ws)

    await asyncio.gather(*(one(i) for i in range(count)))
    return sockets


@pytest.mark.slow
async def test_a_thousand_sockets_reset_at_once_leave_nothing_behind(server, honest_match):
    host = server["host"]
    match_id, alice, bob = honest_match

    def show():
        return registrations(server["metrics"])

    async with match_socket(host, match_id, alice) as a, match_socket(host, match_id, bob) as b:
        for ws in (a, b):
            await frame_of(ws, "welcome")
        # The two honest players: two seats, two presence entries.
        baseline = {"supervisor": 2, "runner_seats": 2, "runner_spectators": 0, "lobby": 0}
        baseline |= {"matchmaking": 0, "presence": 2, "cleanup_pending": 0}
        counts = await until(lambda: settled(server, baseline), CLEANUP_BOUND, "the baseline", show)
        # This match's runner, and any earlier test's, which may stop meanwhile: the crowd
        # must add none, so the count may only stay or fall.
        runners = counts["runners"]
        redis_port = urlparse(server["redis"]).port or 6379
        # Redis connections are pooled: the pools keep what the crowd made them open
        # (up to their caps), so they are counted apart from everything else.
        others_before = open_fds(server["port"]) - connections_to(server["port"], redis_port)

        watchers = [guest(host) for _ in range(CLIENTS_PER_KIND)]
        browsers = [guest(host) for _ in range(CLIENTS_PER_KIND)]
        crowd = await open_all(
            lambda i: match_socket(host, match_id, watchers[i % CLIENTS_PER_KIND]),
            SOCKETS_PER_KIND,
            "welcome",
        )
        crowd += await open_all(
            lambda i: lobby_socket(host, browsers[i % CLIENTS_PER_KIND]), SOCKETS_PER_KIND, "lobby"
        )
        held = registrations(server["metrics"])
        assert held["runner_spectators"] == SOCKETS_PER_KIND and held["lobby"] == SOCKETS_PER_KIND
        assert held["presence"] == 2 + 2 * SOCKETS_PER_KIND

        reset_at = time.monotonic()
        for ws in crowd:  # all at once: no await between the resets
            reset(ws)

        await until(
            lambda: settled(server, baseline, runners), CLEANUP_BOUND, "registrations back", show
        )
        # Each honest player's socket is in its match's group and its player's.
        expected_redis = {"presence": 2, "group_members": 4}
        await until(
            lambda: redis_leftovers(server["redis"], server["prefix"]) == expected_redis,
            CLEANUP_BOUND,
            "Redis back to the two players",
        )
        # The process holds the two players' connections again, and its descriptors but
        # for pooled Redis connections are back to the baseline.
        await until(
            lambda: client_connections(server["port"]) == 2,
            CLEANUP_BOUND,
            "client connections released",
            lambda: client_connections(server["port"]),
        )
        print(f"{len(crowd)} sockets forgotten {time.monotonic() - reset_at:.1f} s after the reset")
        pooled = connections_to(server["port"], redis_port)
        others_after = open_fds(server["port"]) - pooled
        assert others_after <= others_before + SPARE_FDS, (others_before, others_after, pooled)
        # The honest match still runs, and both seats still show connected.
        await a.send(json.dumps({"type": "ping", "id": 1}))
        await frame_of(a, "pong")
    log = log_of(server["tmp"], server["port"])
    assert "MaxConnectionsError" not in log and "Traceback" not in log, log[-3000:]
