"""Limits on every socket, against real daphne processes on a real Redis: a lobby flood
next to an honest match, the connection caps, and a client that lies about what it
has read and never reads."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import ROOT, SERVERS, daphne, prepare, serve

TIMEOUT = 10
TICK_RATE = 20  # the arena's states per second


def cookie(client: SiteClient) -> dict[str, str]:
    return {"Cookie": f"sessionid={client.cookie('sessionid')}"}


async def next_frame(ws, kind, timeout=TIMEOUT):
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def refusal(ws) -> tuple[dict | None, int | None]:
    """The `closing` frame and the close code of a socket the server closes."""
    closing = None
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "closing":
                    closing = frame
    except ConnectionClosed:
        pass
    return closing, ws.close_code


async def arena_for_two(host: str, seconds: int = 60) -> tuple[str, SiteClient, SiteClient]:
    alice, bob = SiteClient(f"http://{host}"), SiteClient(f"http://{host}")
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json(
        "/api/matches/",
        {"game": "arena", "max_players": 2, "settings": {"time_limit_seconds": seconds}},
    )
    bob.post_json(f"/api/matches/{match['id']}/join/")
    return match["id"], alice, bob


class StateCounter:
    """Reads a match socket's states in the background: how many arrived, and when."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.times: list[float] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                if isinstance(text, str) and text.startswith('{"type":"state"'):
                    self.times.append(time.monotonic())
        except ConnectionClosed:
            pass

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.times) / (end - start)

    def max_gap(self, start: float, end: float) -> float:
        inside = [t for t in self.times if start <= t < end]
        return max((b - a for a, b in itertools.pairwise(inside)), default=end - start)


# --- The lobby flood -------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_lobby_flood_leaves_an_honest_match_on_the_same_process_alone(site):
    host, _, _ = site
    match_id, alice, bob = await arena_for_two(host)
    url = f"ws://{host}/ws/match/{match_id}/"
    async with (
        connect(url, origin=f"http://{host}", additional_headers=cookie(alice)) as a,
        connect(url, origin=f"http://{host}", additional_headers=cookie(bob)) as b,
    ):
        for ws in (a, b):
            await next_frame(ws, "welcome")
            await ws.send(json.dumps({"type": "ready"}))
        await next_frame(a, "state")
        honest, other = StateCounter(a), StateCounter(b)
        seconds = 5.0
        flooders = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.e2e.flooder", host, "4", str(seconds),
            cwd=ROOT, stdout=subprocess.PIPE,
        )  # fmt: skip
        start = time.monotonic()
        output, _ = await asyncio.wait_for(flooders.communicate(), seconds + 30)
        end = min(time.monotonic(), start + seconds)
        report = json.loads(output)
        rate, gap = honest.rate(start, end), honest.max_gap(start, end)
        other.task.cancel()
        honest.task.cancel()
    # Every flooder is closed 4008, again and again as it reconnects. A flooder starved
    # of CPU may not read the close before daphne drops the connection (1006).
    assert report["closes"].get("4008", 0) >= 4, f"the flooders were not closed: {report}"
    assert set(report["closes"]) <= {"4008", "1006"}, report
    figures = f"{rate:.1f} states/s, longest gap {gap * 1000:.0f} ms, {report}"
    assert rate >= 18, f"the honest match got {figures}"
    # A state may wait for a turn or two of the loop, never for a flooder's parsing.
    assert gap < 0.25, f"the honest match stalled: {figures}"


# --- Connection caps ---------------------------------------------------------------------------


@pytest.fixture
def capped_site(tmp_path, redis_url, redis_prefix):
    """A daphne process behind a (pretend) proxy, with small caps to reach in a test."""
    env = redis_env(tmp_path, redis_url, redis_prefix)
    env.update(
        MAX_SOCKETS_PER_PLAYER="3", MAX_SOCKETS_PER_IP="5", MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP="2"
    )
    prepare(env)
    with daphne(env, "--proxy-headers") as port:
        yield f"127.0.0.1:{port}"


def lobby(host: str, address: str, client: SiteClient | None = None):
    headers = {"X-Forwarded-For": address, **(cookie(client) if client else {})}
    return connect(f"ws://{host}/ws/lobby/", origin=f"http://{host}", additional_headers=headers)


async def admitted_lobby(host: str, address: str, client: SiteClient | None = None):
    ws = await lobby(host, address, client)
    await next_frame(ws, "lobby")
    return ws


async def eventually_admitted(host: str, address: str, client: SiteClient | None = None):
    """A freed slot is released as its socket's task ends: poll, with a deadline."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        ws = await lobby(host, address, client)
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] == "lobby":
            return ws
        assert frame["type"] == "closing" and frame["code"] == 4029
        await ws.close()
        assert time.monotonic() < deadline, "the freed slot was never released"
        await asyncio.sleep(0.05)  # polling for a release; there is no event to wait on


async def test_anonymous_lobby_sockets_are_capped_per_address(capped_site):
    host = capped_site
    first = await admitted_lobby(host, "198.51.100.1")
    second = await admitted_lobby(host, "198.51.100.1")
    closing, code = await refusal(await lobby(host, "198.51.100.1"))
    assert code == 4029
    assert closing is not None and closing["code"] == 4029
    assert "Too many lobby connections from your network" in closing["reason"]
    # Another address, as the proxy reports it, is counted apart.
    elsewhere = await admitted_lobby(host, "198.51.100.2")
    await first.close()
    again = await eventually_admitted(host, "198.51.100.1")
    for ws in (second, elsewhere, again):
        await ws.close()


async def test_a_player_is_capped_across_lobby_and_match_sockets(capped_site):
    host = capped_site
    match_id, alice, _ = await arena_for_two(host)
    # From three addresses: the per-player cap, not the per-address one, is what bites.
    one = await admitted_lobby(host, "203.0.113.1", alice)
    two = await admitted_lobby(host, "203.0.113.2", alice)
    url = f"ws://{host}/ws/match/{match_id}/"
    headers = {"X-Forwarded-For": "203.0.113.3", **cookie(alice)}
    match_socket = await connect(url, origin=f"http://{host}", additional_headers=headers)
    await next_frame(match_socket, "welcome")
    closing, code = await refusal(await lobby(host, "203.0.113.4", alice))
    assert code == 4029
    assert closing is not None
    assert closing["reason"] == "You have 3 connections open already; close another tab first."
    await match_socket.close()
    again = await eventually_admitted(host, "203.0.113.4", alice)
    for ws in (one, two, again):
        await ws.close()


async def test_sockets_are_capped_per_address_whoever_opens_them(capped_site):
    host = capped_site
    bob, carol = SiteClient(f"http://{host}"), SiteClient(f"http://{host}")
    bob.play_as_guest()
    carol.play_as_guest()
    address = "192.0.2.77"
    held = [await admitted_lobby(host, address, bob) for _ in range(3)]
    held += [await admitted_lobby(host, address, carol) for _ in range(2)]
    closing, code = await refusal(await lobby(host, address, carol))
    assert code == 4029
    assert closing is not None and "from your network" in closing["reason"]
    held.append(await admitted_lobby(host, "192.0.2.78", carol))
    await held.pop(0).close()
    held.append(await eventually_admitted(host, address, bob))
    for ws in held:
        await ws.close()


# --- The lying slow reader --------------------------------------------------------------------

BACKLOG_LIMIT = 32 * 1024


@pytest.fixture(params=SERVERS)
def site_with_small_backlog(request, tmp_path, redis_url, redis_prefix):
    """Under each server: daphne's send never waits, uvicorn's waits for a slow client."""
    env = redis_env(tmp_path, redis_url, redis_prefix)
    env["MAX_SOCKET_BACKLOG_BYTES"] = str(BACKLOG_LIMIT)
    prepare(env)
    with serve(env, server=request.param) as port:
        yield f"127.0.0.1:{port}", tmp_path / f"{request.param}-{port}.log"


def non_reading_socket(host: str) -> socket.socket:
    """A TCP connection with a small receive buffer: what it does not read backs up fast."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    address, port = host.split(":")
    sock.connect((address, int(port)))
    return sock


async def wait_for_log(log: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        await asyncio.sleep(0.05)  # polling the server's log file; there is no event
    raise AssertionError(f"no {pattern!r} in the server's log within {timeout} s")


@pytest.mark.slow
async def test_a_lying_reader_is_bounded_and_closed_while_the_honest_player_plays(
    site_with_small_backlog,
):
    host, log = site_with_small_backlog
    match_id, alice, bob = await arena_for_two(host)
    url = f"ws://{host}/ws/match/{match_id}/"
    async with (
        connect(url, origin=f"http://{host}", additional_headers=cookie(alice)) as honest,
        connect(
            url,
            origin=f"http://{host}",
            additional_headers=cookie(bob),
            sock=non_reading_socket(host),
            max_queue=1,  # the client library stops reading once one frame waits
        ) as liar,
    ):
        for ws in (honest, liar):
            await next_frame(ws, "welcome")
            await ws.send(json.dumps({"type": "ready"}))
        await next_frame(honest, "state")
        states = StateCounter(honest)
        start = time.monotonic()

        async def lie() -> None:
            while True:  # "I have every state": acknowledged far ahead, once a second
                await liar.send(json.dumps({"type": "ack", "tick": 2**31 - 1}))
                await asyncio.sleep(1)

        liar_task = asyncio.create_task(lie())
        found = await wait_for_log(log, r"closing a slow reader \(4011\): (\d+) bytes", 18)
        closed_at = time.monotonic()
        liar_task.cancel()
        # The liar reads again, late, as a client on a slow link catches up: its close
        # waits behind the backlog, and the server gives it SLOW_READER_CLOSE_SECONDS to
        # get there (before, one second: a client reading later, or a test seeing the
        # log line late on a busy machine, saw its connection dropped, 1006).
        await asyncio.sleep(1.5)  # the client's own slowness, part of the scenario
        # It reads at last: the refusals of its acks, and the close, are there.
        frames, code = [], None
        try:
            async with asyncio.timeout(TIMEOUT):
                async for text in liar:
                    if isinstance(text, str) and not text.startswith('{"type":"state"'):
                        frames.append(json.loads(text))
        except ConnectionClosed:
            pass
        code = liar.close_code
        await asyncio.sleep(1)  # the honest player's states after the close, to count
        rate = states.rate(start, time.monotonic())
        states.task.cancel()
    unsent = int(found.group(1))
    assert BACKLOG_LIMIT < unsent <= BACKLOG_LIMIT + 8192, "bounded: a few states over the limit"
    assert code == 4011, f"closed with {code}"
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and all(f["code"] == "invalid" for f in errors), frames
    assert frames[-1]["type"] == "closing" and frames[-1]["code"] == 4011
    assert closed_at - start < 16, "closed for slowness before the strikes ran out"
    assert rate >= 18, f"the honest player got {rate:.1f} states/s next to the liar"
