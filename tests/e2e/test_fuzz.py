"""Twenty thousand random and mutated frames on the match and lobby sockets of a daphne
process, next to an honest arena match on the same process: no traceback, the honest
match keeps its state rate, and nothing of the fuzzers stays registered."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.lifetime import log_of, redis_leftovers, registrations, until
from tests.e2e.test_redis_faults import arena_match
from tests.e2e.test_socket_lifetime import guest, lobby_socket, match_socket, server  # noqa: F401

FRAMES = 20_000
WORKERS = 6
ARENA_RATE = 20
MIN_STATES_PER_SECOND = 18
# A server that closed a socket for abuse stops reading it: do not wait for its reply.
QUICK = {"close_timeout": 0.5, "open_timeout": 5}


def random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**70), 10**30, rng.randint(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, 1e-320, rng.uniform(-10, 10)])
    if kind == 4:
        return rng.choice(["", "input", "ack", "ping", "chat", "x" * rng.randrange(300), "é\u0000"])
    if kind == 5:
        return rng.choice(["type", "seq", "data", "tick", "id", "mx", "aim", "fire", "game"])
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["type", "seq", "data", "ack", "tick", "id", "t", "text", "game", "mx", "my", "x"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


VALID = [
    {"type": "input", "seq": 5, "data": {"seq": 5, "mx": 0.5, "my": -0.5, "fire": True}},
    {"type": "input", "data": {"column": 3}},
    {"type": "ack", "tick": 10},
    {"type": "ping", "id": 1, "t": 1.5},
    {"type": "chat", "text": "hello"},
    {"type": "ready"},
    {"type": "resync"},
    {"type": "queue", "game": "arena"},
    {"type": "unqueue"},
]


def mutated(rng: random.Random) -> dict:
    frame = json.loads(json.dumps(rng.choice(VALID)))
    target = frame["data"] if "data" in frame and rng.random() < 0.5 else frame
    for _ in range(rng.randrange(1, 4)):
        action = rng.randrange(3)
        keys = list(target)
        if action == 0 and keys:
            del target[rng.choice(keys)]
        elif action == 1 and keys:
            target[rng.choice(keys)] = random_json(rng)
        else:
            target[rng.choice(["x", "seq", "mx", "extra", "tick", "type"])] = random_json(rng)
    return frame


def fuzz_frame(rng: random.Random) -> str | bytes:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(64))  # a binary frame of noise
    if kind == 1:
        return rng.randbytes(rng.randrange(64)).decode("latin-1")
    if kind == 2:
        depth = rng.choice([50, 500, 1000, 3000])
        return (
            "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
        )
    if kind == 3:
        return '{"type":"input","seq":1,"data":{"seq":1,"mx":1' + "0" * 400 + "}}"
    if kind == 4:
        return "x" * rng.choice([4097, 20_000])  # oversized
    if kind == 5:
        return json.dumps(random_json(rng))
    return json.dumps(mutated(rng))


class Fuzzer:
    def __init__(self, host: str, targets: list, seed: int, budget: list[int]) -> None:
        self.host, self.targets, self.budget = host, targets, budget
        self.rng = random.Random(seed)
        self.sent = 0
        self.connections = 0

    async def run(self) -> None:
        while self.budget[0] > 0:
            opener = self.rng.choice(self.targets)
            try:
                async with asyncio.timeout(10):
                    async with opener() as ws:
                        self.connections += 1
                        await self._flood(ws)
            except (ConnectionClosed, InvalidStatus, OSError, TimeoutError):
                pass  # closed for abuse (or refused mid-handshake): connect again

    async def _flood(self, ws) -> None:
        for _ in range(self.rng.randrange(5, 120)):
            if self.budget[0] <= 0:
                return
            await ws.send(fuzz_frame(self.rng))
            self.budget[0] -= 1
            self.sent += 1
            if self.rng.random() < 0.05:
                await asyncio.sleep(0.01)  # now and then, let the replies come


@pytest.mark.slow
async def test_fuzzed_frames_next_to_an_honest_match(server):  # noqa: F811
    host = server["host"]
    match_id, alice, bob = await arena_match(host, host, time_limit_seconds=600)
    try:
        # Fuzzers: seated players of a running arena match of their own, a seated player
        # of a waiting match, spectators of the honest match, and lobby sockets.
        own_id, carol, dave = await arena_match(host, host, time_limit_seconds=600)
        await carol.close()
        await dave.close()
        erin, watcher = guest(host), guest(host)
        waiting = erin.post_json("/api/matches/", {"game": "connect_four"})["id"]
        targets = [
            lambda: match_socket(host, own_id, carol.site, **QUICK),
            lambda: match_socket(host, own_id, dave.site, **QUICK),
            lambda: match_socket(host, waiting, erin, **QUICK),
            lambda: match_socket(host, match_id, watcher, **QUICK),
            lambda: lobby_socket(host, watcher, **QUICK),
            lambda: lobby_socket(host, erin, **QUICK),
        ]
        budget = [FRAMES]
        fuzzers = [Fuzzer(host, targets, seed, budget) for seed in range(WORKERS)]
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(f.run() for f in fuzzers)), timeout=90)
        ended = time.monotonic()
        sent = sum(f.sent for f in fuzzers)
        sockets = sum(f.connections for f in fuzzers)
        print(f"{sent} frames on {sockets} sockets in {ended - started:.1f} s")
        assert sent >= FRAMES
        for player in (alice, bob):
            received = [tick for at, tick in player.states if started <= at <= ended]
            rate = len(received) / (ended - started)
            assert rate >= MIN_STATES_PER_SECOND, f"{rate:.1f} states/s while fuzzed"
            assert player.closed is None
    finally:
        await alice.close()
        await bob.close()

    # Nothing of the fuzzers stays: the registrations fall to nothing once the honest
    # players have gone too, and Redis holds no presence entry or group member.
    def clean():
        counts = registrations(server["metrics"])
        names = ("supervisor", "runner_seats", "runner_spectators", "lobby", "presence")
        return all(counts[n] == 0 for n in names) and counts["cleanup_pending"] == 0

    await until(clean, 10, "no registrations", lambda: registrations(server["metrics"]))
    expected = {"presence": 0, "group_members": 0}
    await until(
        lambda: redis_leftovers(server["redis"], server["prefix"]) == expected,
        10,
        "nothing in Redis",
        lambda: redis_leftovers(server["redis"], server["prefix"]),
    )
    log = log_of(server["tmp"], server["port"])
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]
