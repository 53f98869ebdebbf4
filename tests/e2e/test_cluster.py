"""`make cluster` as an operator runs it: nginx (TLS) in front of three daphne processes,
started by deploy/cluster.py from the files in deploy/. A match played over wss lands
on one process with both its players, and when that process is killed the players
reconnect through nginx to one surviving process, which adopts the match."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from deploy import cluster as deploy_cluster
from tests.e2e.http_client import SiteClient
from tests.e2e.lifetime import registrations
from tests.e2e.test_match_over_servers import next_frame

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 120  # three instances and a new database migrated, on a busy machine too
ADOPTION_BOUND = 10.0  # seconds from the kill until both players see the match again


def _alive(pid: int) -> bool:
    """Running: a killed process stays a zombie until the cluster script reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _drop_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(
            f"{deploy_cluster.POSTGRES}/postgres", autocommit=True, connect_timeout=3
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # PostgreSQL unreachable: the cluster used SQLite in its own directory


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[dict[str, Any]]:
    """deploy/cluster.py with three instances; on the way out, Ctrl-C must stop all it started."""
    if not Path(deploy_cluster.nginx_binary()).exists():
        pytest.skip("nginx is not installed (.ci/run installs it)")
    database = f"arcade_cluster_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "CLUSTER_REDIS_URL": redis_url,
        "PRESENCE_HEARTBEAT_SECONDS": "1",
        "PRESENCE_TTL_SECONDS": "3",
    }
    command = [sys.executable, "deploy/cluster.py", "--instances", "3"]
    process = subprocess.Popen(
        [*command, "--workdir", str(tmp_path), "--database", database],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "cluster.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    described = tmp_path / "cluster.json"
    deadline = time.monotonic() + START_SECONDS
    try:
        while not described.exists():
            output = (tmp_path / "cluster.out").read_text()
            assert process.poll() is None, output
            assert time.monotonic() < deadline, output
            time.sleep(0.2)  # the cluster writes the file when it is up; no event to wait on
    except BaseException:
        process.send_signal(signal.SIGINT)  # what it started so far stops with it
        process.wait(timeout=45)
        _drop_database(database)
        raise
    info = json.loads(described.read_text())
    try:
        yield {**info, "process": process}
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(timeout=45)
        _drop_database(database)
    started = [instance["pid"] for instance in info["instances"]] + [info["nginx_pid"]]
    assert [pid for pid in started if _alive(pid)] == []
    assert "Stopped." in (tmp_path / "cluster.out").read_text()


def _https_client(info: dict[str, Any], context: ssl.SSLContext) -> SiteClient:
    base = f"https://localhost:{info['https_port']}"
    client = SiteClient(base)
    client.opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(client.jar), urllib.request.HTTPSHandler(context=context)
    )
    # Django checks the origin of every HTTPS POST, as a browser would send it.
    client.opener.addheaders = [("Origin", base), ("Referer", base + "/")]
    return client


def _socket(info: dict[str, Any], match: str, client: SiteClient, context: ssl.SSLContext) -> Any:
    host = f"localhost:{info['https_port']}"
    return connect(
        f"wss://{host}/ws/match/{match}/",
        ssl=context,
        origin=f"https://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
    )


def _placement(info: dict[str, Any]) -> dict[int, dict[str, float]]:
    """Each live instance's runner count and match sockets, by port (from its metrics)."""
    return {
        instance["port"]: registrations(instance["metrics_port"])
        for instance in info["instances"]
        if _alive(instance["pid"])
    }


def _holder(info: dict[str, Any]) -> int | None:
    """The one instance that runs the match with both seats connected, if there is one."""
    placement = _placement(info)
    holders = [port for port, counts in placement.items() if counts.get("runners")]
    if len(holders) != 1 or placement[holders[0]].get("runner_seats") != 2:
        return None
    others = [counts for port, counts in placement.items() if port != holders[0]]
    assert all(not counts.get("supervisor") for counts in others), placement  # no socket there
    return holders[0]


async def _until_holder(info: dict[str, Any], timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while (holder := _holder(info)) is None:
        assert time.monotonic() < deadline, _placement(info)
        await asyncio.sleep(0.1)  # the gauges are read at scrape time: poll them
    return holder


async def _move(seats: dict[int, Any], watcher: Any, moves_so_far: int, column: int) -> None:
    frame = await next_frame(watcher, "state", lambda f: f["state"]["moves"] == moves_so_far)
    await seats[frame["state"]["to_move"]].send(
        json.dumps({"type": "input", "data": {"column": column}})
    )


async def _seated(sockets: list[Any]) -> dict[int, Any]:
    seats = {}
    for ws in sockets:
        welcome = await next_frame(ws, "welcome")
        seats[welcome["you"]["seat"]] = ws
        await ws.send(json.dumps({"type": "ready"}))
    assert set(seats) == {0, 1}
    return seats


@pytest.mark.slow
async def test_a_match_through_nginx_stays_on_one_process_and_survives_its_death(cluster):
    info = cluster
    context = ssl.create_default_context(cafile=info["ca"])
    alice, bob = _https_client(info, context), _https_client(info, context)
    await asyncio.to_thread(alice.play_as_guest)
    await asyncio.to_thread(bob.play_as_guest)
    match = (await asyncio.to_thread(alice.post_json, "/api/matches/", {"game": "connect_four"}))[
        "id"
    ]
    await asyncio.to_thread(bob.post_json, f"/api/matches/{match}/join/")

    a = await _socket(info, match, alice, context).__aenter__()
    b = await _socket(info, match, bob, context).__aenter__()
    seats = await _seated([a, b])
    for n, column in enumerate([0, 1, 0, 1]):  # whoever opens plays column 0
        await _move(seats, b, n, column)
    await next_frame(a, "state", lambda f: f["state"]["moves"] == 4)
    holder = await _until_holder(info)

    # The process of the match dies without a word; nginx drops both players' sockets.
    pid = next(i["pid"] for i in info["instances"] if i["port"] == holder)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    for ws in (a, b):
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()

    # Both reconnect through nginx, land on one surviving process, and play on.
    async with _socket(info, match, alice, context) as a2, _socket(info, match, bob, context) as b2:
        welcomes = {}
        for ws in (a2, b2):
            async with asyncio.timeout(ADOPTION_BOUND):
                welcomes[ws] = await next_frame(ws, "welcome")
        assert time.monotonic() - killed_at <= ADOPTION_BOUND + 2
        assert all(w["state"]["moves"] == 4 for w in welcomes.values())
        seats = {w["you"]["seat"]: ws for ws, w in welcomes.items()}
        for ws in (a2, b2):
            await ws.send(json.dumps({"type": "ready"}))
        survivor = await _until_holder(info)
        assert survivor != holder
        for n, column in enumerate([0, 1, 0], start=4):
            await _move(seats, b2, n, column)
        results = [await next_frame(ws, "result") for ws in (a2, b2)]
        assert results[0] == results[1]
        assert {seat["outcome"] for seat in results[0]["seats"]} == {"win", "loss"}

    # Health checks (the cluster polled /readyz through nginx to start) stay out of
    # the access logs: nginx's has the match sockets, daphne writes none.
    work = Path(info["work"])
    access = (work / "arcade.access.log").read_text()
    assert f"GET /ws/match/{match}/" in access and "/readyz" not in access
    assert all('"GET ' not in Path(i["log"]).read_text() for i in info["instances"])


class Player:
    """A match socket through nginx that reconnects whenever it is closed or its handshake
    fails, as the client does."""

    def __init__(self, info: dict[str, Any], match: str, client: SiteClient, context: Any) -> None:
        self.connect = lambda: _socket(info, match, client, context)
        self.ws: Any = None
        self.seat: int | None = None
        self.moves = -1
        self.to_move: int | None = None
        self.welcomes: list[dict[str, Any]] = []
        self.closes: list[int | None] = []
        self.refusals: list[int] = []  # HTTP statuses nginx answered with instead of a socket
        self.result: dict[str, Any] | None = None

    async def play(self) -> None:
        while self.result is None:
            try:
                async with self.connect() as ws:
                    self.ws = ws
                    async for raw in ws:
                        await self._read(json.loads(raw))
                        if self.result is not None:
                            return
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except InvalidStatus as refused:
                self.refusals.append(refused.response.status_code)
            except (InvalidHandshake, OSError):
                self.closes.append(None)  # the connection failed while the instance restarts
            self.ws, self.moves = None, -1
            await asyncio.sleep(0.2)  # the client's backoff, shortened

    async def _read(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "welcome":
            self.welcomes.append(frame)
            self.seat = frame["you"]["seat"]
            self.moves = -1
            await self.ws.send(json.dumps({"type": "ready"}))
        elif frame["type"] == "state":
            self.moves, self.to_move = frame["state"]["moves"], frame["state"]["to_move"]
        elif frame["type"] == "result":
            self.result = frame


async def _until(test: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)  # the players' tasks update their fields


async def _play_move(players: list[Player], moves_so_far: int, column: int) -> None:
    """The player to move plays `column` once both see the board after `moves_so_far`.

    A socket closed meanwhile (its instance drains) loses the input: played again
    once both are back, as a player would.
    """
    while True:
        await _until(
            lambda: all(p.moves == moves_so_far and p.ws is not None for p in players),
            f"both players at move {moves_so_far}",
        )
        mover = next(p for p in players if p.seat == players[0].to_move)
        closes = sum(len(p.closes) for p in players)
        with suppress(ConnectionClosed):
            await mover.ws.send(json.dumps({"type": "input", "data": {"column": column}}))
        await _until(
            lambda closes=closes: (
                any(p.moves > moves_so_far for p in players)
                or sum(len(p.closes) for p in players) > closes
            ),
            f"move {moves_so_far + 1}",
        )
        if any(p.moves > moves_so_far for p in players):
            return


@pytest.mark.slow
@pytest.mark.timeout(300)  # three instances started, then drained and started again in turn
async def test_a_rolling_restart_of_the_cluster_loses_no_match(cluster):
    info = cluster
    context = ssl.create_default_context(cafile=info["ca"])
    alice, bob = _https_client(info, context), _https_client(info, context)
    await asyncio.to_thread(alice.play_as_guest)
    await asyncio.to_thread(bob.play_as_guest)
    # The longest turn clock: the restarts take longer than the default 30 s on a busy
    # machine, and the player to move would lose on time (the rules, not a lost move).
    game = {"game": "connect_four", "settings": {"turn_seconds": 300}}
    created = await asyncio.to_thread(alice.post_json, "/api/matches/", game)
    match = created["id"]
    await asyncio.to_thread(bob.post_json, f"/api/matches/{match}/join/")
    players = [Player(info, match, alice, context), Player(info, match, bob, context)]
    tasks = [asyncio.create_task(player.play()) for player in players]
    try:
        for n, column in enumerate([0, 1, 0, 1]):  # whoever opens plays column 0
            await _play_move(players, n, column)
        await _until(lambda: all(p.moves == 4 for p in players), "four moves")
        old_pids = {instance["pid"] for instance in info["instances"]}

        # Every instance in turn: drained (its matches and sockets move on), started again.
        info["process"].send_signal(signal.SIGHUP)
        described = Path(info["work"]) / "cluster.json"
        await _until(lambda: json.loads(described.read_text())["restarts"] == 1, "restart", 90)
        now = json.loads(described.read_text())
        assert old_pids.isdisjoint(instance["pid"] for instance in now["instances"])
        assert all(4012 in p.closes for p in players), [p.closes for p in players]

        # The match goes on where it was, to its result.
        for n, column in enumerate([0, 1, 0], start=4):
            await _play_move(players, n, column)
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
    finally:
        for task in tasks:
            task.cancel()
    assert players[0].result == players[1].result
    assert {seat["outcome"] for seat in players[0].result["seats"]} == {"win", "loss"}
    assert all(w["state"]["moves"] == 4 for p in players for w in p.welcomes[1:])
    # Two instances were up at every moment: nginx always had one to send a socket to
    # (it answered 502, "no live upstreams", when it remembered failed connections).
    assert [p.refusals for p in players] == [[], []]
