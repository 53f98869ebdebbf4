"""A match survives the death of the process running it: another process adopts it
from its last checkpoint and the players finish it, with the moves made before. A
process that dies is told from one that is only slow by its connection to Redis: the
dead one's match is adopted before its lease could have run out, the slow one keeps it."""

import asyncio
import contextlib
import json
import signal

import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.http_client import SiteClient
from tests.e2e.servers import RUNNING, SERVERS
from tests.e2e.test_match_over_servers import next_frame

# Seconds from the kill until the match runs again: two thirds of the default lease (3 s,
# renewed every second), the soonest the lease of a process killed at any moment could
# have expired. A match adopted sooner was adopted because its process was seen dead.
BEFORE_LEASE_EXPIRY = 2.0
# How long a runner's process is stopped: its lease renewal is late (due every second, so a
# lease that has less than two of its three seconds left is overdue), but the lease does
# not expire.
PAUSE_SECONDS = 1.2
RENEWED_LEASE_LEFT_MS = 2000


def socket_to(host, match_id, client):
    return connect(
        f"ws://{host}/ws/match/{match_id}/",
        origin=f"http://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
    )


async def move(ws_by_seat, watcher, moves_so_far, column):
    frame = await next_frame(watcher, "state", lambda f: f["state"]["moves"] == moves_so_far)
    mover = ws_by_seat[frame["state"]["to_move"]]
    await mover.send(json.dumps({"type": "input", "data": {"column": column}}))


def process_of(host):
    return RUNNING[int(host.rsplit(":", 1)[1])]


async def frames_for(ws, seconds):
    """Every frame `ws` receives within `seconds`."""
    frames = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frames.append(json.loads(await ws.recv()))
    return frames


async def frames_until(ws, kind, test):
    """Every frame `ws` receives up to the first `kind` frame that passes `test`."""
    frames = []
    async with asyncio.timeout(30):
        while not frames or not (frames[-1]["type"] == kind and test(frames[-1])):
            frames.append(json.loads(await ws.recv()))
    return frames


async def four_moves_on_two_processes(first, second):
    """Alice on the first process (which runs the match: she connects first), Bob on the
    second; two moves each. Returns (match id, alice, bob, Alice's socket, Bob's socket);
    the caller closes both sockets, or cuts Alice's off by killing her process."""
    match, alice, bob, a, b, _ = await four_moves_and_the_turn(first, second)
    return match, alice, bob, a, b


async def four_moves_and_the_turn(first, second):
    """The same, and the seat to move next (the opener's, who plays column 0)."""
    alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
    bob.post_json(f"/api/matches/{match}/join/")
    a = await socket_to(first, match, alice).__aenter__()
    await next_frame(a, "welcome")
    b = await socket_to(second, match, bob).__aenter__()
    await next_frame(b, "welcome")
    for ws in (a, b):
        await ws.send(json.dumps({"type": "ready"}))
    # Whoever opens plays column 0, the other column 1.
    for n, column in enumerate([0, 1, 0, 1]):
        await move({0: a, 1: b}, b, n, column)
    fourth = await next_frame(b, "state", lambda f: f["state"]["moves"] == 4)
    return match, alice, bob, a, b, fourth["state"]["to_move"]


@pytest.fixture(params=SERVERS)
def server_kind(request):
    """The core of the end-to-end suite: this module runs under each supported server."""
    return request.param


async def test_a_match_continues_within_two_seconds_after_its_process_is_killed(two_sites):
    first, second, _ = two_sites
    match, alice, bob, a, b = await four_moves_on_two_processes(first, second)
    async with b:
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        process_of(first).send_signal(signal.SIGKILL)
        with pytest.raises(ConnectionClosed):  # Alice's process is gone, and her socket with it
            async with asyncio.timeout(5):
                while True:
                    await a.recv()  # frames already on their way, then the drop

        # Bob, on the surviving process, sees the match again: a fresh welcome, same board.
        welcome = await next_frame(b, "welcome")
        assert loop.time() - killed_at < BEFORE_LEASE_EXPIRY
        assert welcome["match"]["status"] == "active"
        assert welcome["state"]["moves"] == 4
        assert [len(c) for c in welcome["state"]["board"][:2]] == [2, 2]

        # Alice reconnects (to the surviving process) and takes her seat back.
        async with socket_to(second, match, alice) as a2:
            again = await next_frame(a2, "welcome")
            assert again["you"]["seat"] == 0 and again["state"]["moves"] == 4
            seats = {0: a2, 1: b}
            for n, column in enumerate([0, 1, 0], start=4):
                await move(seats, b, n, column)
            results = [await next_frame(ws, "result") for ws in (a2, b)]
    assert results[0] == results[1]
    assert "four in a row" in results[0]["summary"]
    stored = bob.get_json(f"/api/matches/{match}/")
    assert stored["status"] == "finished"
    assert sorted(p["outcome"] for p in stored["participants"]) == ["loss", "win"]


async def test_a_stopped_runner_whose_lease_renewal_is_late_keeps_its_match(
    two_sites, redis_url, redis_prefix
):
    """SIGSTOP: the runner's process renews nothing for a while but keeps its connections,
    as a process on a starved core would. The other process, whose socket makes it check
    that lease, must not take the match over: nobody is welcomed again, and the match
    goes on with the same runner once the process runs again."""
    first, second, _ = two_sites
    match, _, bob, a, b, to_move = await four_moves_and_the_turn(first, second)
    direct, lease = redis.Redis.from_url(redis_url), f"{redis_prefix}:lease:{match}"
    async with a, b:
        runner, held = process_of(first), direct.get(lease)
        runner.send_signal(signal.SIGSTOP)
        try:
            heard = await frames_for(b, PAUSE_SECONDS)  # Bob, while the runner is stopped
            still, left = direct.get(lease), direct.pttl(lease)
        finally:
            runner.send_signal(signal.SIGCONT)
        assert still == held  # nobody took the lease over
        assert 0 < left < RENEWED_LEASE_LEFT_MS  # though its renewal was overdue
        # The opener (column 0) makes the fifth move, on the runner that was stopped.
        await {0: a, 1: b}[to_move].send(json.dumps({"type": "input", "data": {"column": 0}}))
        for ws in (a, b):
            heard += await frames_until(ws, "state", lambda f: f["state"]["moves"] == 5)
    assert [f for f in heard if f["type"] == "welcome"] == []  # an adopter greets every socket
    assert bob.get_json(f"/api/matches/{match}/")["status"] == "active"


async def test_an_arena_match_killed_in_its_first_second_is_adopted_not_lost(two_sites):
    """The runner checkpoints a match as it starts: a process that dies before the match's
    first regular checkpoint (a second of ticks) leaves a match to adopt, not one to abort."""
    first, second, _ = two_sites
    alice, bob = SiteClient(f"http://{first}"), SiteClient(f"http://{second}")
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json("/api/matches/", {"game": "arena", "max_players": 2})["id"]
    bob.post_json(f"/api/matches/{match}/join/")
    async with socket_to(first, match, alice) as a:
        await next_frame(a, "welcome")
        async with socket_to(second, match, bob) as b:
            await next_frame(b, "welcome")
            for ws in (a, b):
                await ws.send(json.dumps({"type": "ready"}))
            started = await next_frame(b, "state", lambda f: f["tick"] >= 1)
            assert started["tick"] < 10  # well inside the first second of ticks (20 a second)
            process_of(first).send_signal(signal.SIGKILL)

            welcome = await next_frame(b, "welcome")  # the adopter greets every socket again
            assert welcome["match"]["status"] == "active"
            resumed = await next_frame(b, "state")
            assert resumed["tick"] >= 0
    assert bob.get_json(f"/api/matches/{match}/")["status"] == "active"
