"""Redis faults under two real daphne processes: a cut of a few seconds, and a restart
that loses every key. Matches go on, every process is subscribed to its fan-out topic
exactly once afterwards, players get states again, and nothing is left in Redis for
ever. The outages are the test's own: a TCP proxy in front of the machine's Redis, and
a redis-server of the test's own on a spare port (never the machine's)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from websockets.asyncio.client import connect

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.netproxy import CuttableProxy
from tests.e2e.servers import daphne, free_port, prepare

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5.0
RESUME_BOUND = 3.0  # seconds from Redis being back until every player has states again


# --- Servers ------------------------------------------------------------------------------


def _through(redis_url: str, port: int) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


@contextlib.contextmanager
def two_processes(tmp_path: Path, redis_url: str, redis_prefix: str):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with daphne(env) as first, daphne(env) as second:
        yield f"127.0.0.1:{first}", f"127.0.0.1:{second}"


class OwnRedis:
    """A redis-server of the test's own, without persistence: a restart loses every key."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # polling a port: there is no event to wait on

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # like a crash: nothing saved, nothing said
            self.process.wait()
            self.process = None


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


# --- Players ------------------------------------------------------------------------------


class Player:
    """A browser-like client on one process: its socket, and the states it received."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.site = SiteClient(f"http://{host}")
        self.site.play_as_guest()
        self.ws = None
        self.states: list[tuple[float, int]] = []  # (arrival, tick)
        self.frames: list[dict] = []
        self.closed: int | None = None
        self._tasks: list[asyncio.Task] = []

    async def open(self, match_id: str) -> None:
        self.ws = await connect(
            f"ws://{self.host}/ws/match/{match_id}/",
            origin=f"http://{self.host}",
            additional_headers={"Cookie": f"sessionid={self.site.cookie('sessionid')}"},
        )
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._steer())]

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "state":
                    self.states.append((time.monotonic(), frame["tick"]))
                else:
                    self.frames.append(frame)
        finally:
            self.closed = self.ws.close_code

    async def _steer(self) -> None:
        """Fly in circles, like a player holding keys, 20 inputs a second."""
        seq = 0
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(0.05)  # a client's input rate
                seq += 1
                data = {"seq": seq, "mx": 1.0 if seq % 40 < 20 else -1.0, "my": 0.5}
                await self.ws.send(json.dumps({"type": "input", "data": data}))

    async def frame(self, kind: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames:
                if frame["type"] == kind:
                    return frame
            await asyncio.sleep(0.02)  # polling what the reader collected
        raise AssertionError(f"no {kind} frame within {timeout} s; got {self.frames[-5:]}")

    async def states_after(self, moment: float, timeout: float) -> float:
        """Seconds from `moment` to the first state received after it (and a newer tick)."""
        before = max((tick for at, tick in self.states if at <= moment), default=-1)
        deadline = moment + timeout
        while time.monotonic() < deadline:
            for at, tick in self.states:
                if at > moment and tick > before:
                    return at - moment
            await asyncio.sleep(0.02)  # polling what the reader collected
        raise AssertionError(f"{self.host}: no state within {timeout} s")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()


async def arena_match(first: str, second: str, **settings) -> tuple[str, Player, Player]:
    """Alice on the first process (which runs it: she connects first), Bob on the second."""
    alice, bob = Player(first), Player(second)
    match = alice.site.post_json("/api/matches/", {"game": "arena", "settings": settings})["id"]
    bob.site.post_json(f"/api/matches/{match}/join/")
    await alice.open(match)
    await alice.frame("welcome")
    await bob.open(match)
    await bob.frame("welcome")
    for player in (alice, bob):
        await player.ws.send(json.dumps({"type": "ready"}))
    for player in (alice, bob):
        await player.states_after(time.monotonic(), 10)
    return match, alice, bob


# --- Looking at Redis ---------------------------------------------------------------------


def fanout_subscribers(client: redis.Redis, prefix: str) -> dict[str, int]:
    """Subscribers of each process's fan-out topic, as Redis counts them."""
    topics = client.pubsub_channels(f"{prefix}.fanout.*")
    return {t.decode(): n for t, n in client.pubsub_numsub(*topics)} if topics else {}


async def wait_for(test, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = test()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)  # polling Redis: there is no event to wait on


def tracebacks(tmp_path: Path) -> list[str]:
    return [
        line
        for log in tmp_path.glob("daphne-*.log")
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("Traceback")
    ]


def fence_ttl(client: redis.Redis, prefix: str, match_id: str) -> int:
    """-2: no key; -1: a key that never expires; else seconds left."""
    return int(client.ttl(f"{prefix}:fence:{match_id}"))


# --- Tests --------------------------------------------------------------------------------


async def test_a_redis_cut_of_seconds_leaves_sockets_open_and_the_fanout_subscribed_once(
    tmp_path, redis_url, redis_prefix
):
    direct = redis.Redis.from_url(redis_url)
    proxy = CuttableProxy(urlsplit(redis_url).port or 6379)
    try:
        with two_processes(tmp_path, _through(redis_url, proxy.port), redis_prefix) as (a, b):
            match, alice, bob = await arena_match(a, b)
            await wait_for(
                lambda: len(fanout_subscribers(direct, redis_prefix)) == 2, 5, "two topics"
            )
            assert fence_ttl(direct, redis_prefix, match) > 0  # nothing is kept for ever

            proxy.cut()
            cut_at = time.monotonic()
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for an event
            # The runner went on: its own process's player had states all along.
            ticks = [tick for at, tick in alice.states if at > cut_at + 1]
            assert ticks and ticks[-1] - ticks[0] >= 60, "the runner stopped in the outage"
            proxy.restore()
            back_at = time.monotonic()

            for player in (alice, bob):
                assert await player.states_after(back_at, RESUME_BOUND) <= RESUME_BOUND
            # Every process is subscribed to its topic again, once, and stays so.
            subscribers = await wait_for(
                lambda: fanout_subscribers(direct, redis_prefix), 2, "topics back"
            )
            await asyncio.sleep(1.0)  # time for a duplicate subscription to show up
            assert fanout_subscribers(direct, redis_prefix) == subscribers
            assert sorted(subscribers.values()) == [1, 1], subscribers
            assert alice.closed is None and bob.closed is None

            # A new match starts across both processes, without restarting anything.
            second, carol, dave = await arena_match(b, a)
            assert second != match
            for player in (alice, bob, carol, dave):
                await player.close()
            assert not tracebacks(tmp_path), tracebacks(tmp_path)
    finally:
        proxy.close()


async def test_a_match_goes_on_to_its_result_when_redis_restarts_empty(
    tmp_path, own_redis, redis_prefix
):
    direct = redis.Redis.from_url(own_redis.url)
    with two_processes(tmp_path, own_redis.url, redis_prefix) as (a, b):
        match, alice, bob = await arena_match(a, b, time_limit_seconds=12)
        fence_before = fence_ttl(direct, redis_prefix, match)
        assert fence_before > 0

        own_redis.stop()
        own_redis.start()  # empty: no lease, no checkpoint, no group, no fence counter
        back_at = time.monotonic()
        for player in (alice, bob):
            assert await player.states_after(back_at, RESUME_BOUND) <= RESUME_BOUND
        # The runner took its lease again with a token above the database's fence.
        await wait_for(lambda: direct.get(f"{redis_prefix}:lease:{match}"), 3, "a lease")
        await wait_for(lambda: direct.exists(f"{redis_prefix}:checkpoint:{match}"), 3, "a save")

        results = [await player.frame("result", timeout=20) for player in (alice, bob)]
        assert results[0] == results[1]
        stored = alice.site.get_json(f"/api/matches/{match}/")
        assert stored["status"] == "finished"
        assert alice.closed is None and bob.closed is None
        # A finished match leaves nothing behind.
        await wait_for(lambda: fence_ttl(direct, redis_prefix, match) == -2, 3, "fence gone")
        assert not direct.exists(f"{redis_prefix}:checkpoint:{match}")
        for player in (alice, bob):
            await player.close()
        assert not tracebacks(tmp_path), tracebacks(tmp_path)
