"""The WebSocket protocol itself, against a real daphne on Redis: subprotocol
negotiation, binary state frames, and detection of a silent peer by daphne's pings."""

import asyncio
import json

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from games.engine import arena_wire
from tests.e2e.http_client import SiteClient
from tests.e2e.netproxy import CuttableProxy
from tests.e2e.servers import SERVERS, observed

TIMEOUT = 10
# daphne pings a socket idle this long, and drops it if no pong comes within the timeout.
PING_INTERVAL, PING_TIMEOUT = 2, 3
UNACKED_LIMIT = 8
ARENA_RATE = 20


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory, redis_url):
    """One server process per supported server: the protocol is the same under each."""
    tmp = tmp_path_factory.mktemp("protocol")
    with observed(
        tmp,
        redis_url,
        "proto",
        server=request.param,
        pings=(PING_INTERVAL, PING_TIMEOUT),
        MATCH_RECONNECT_GRACE_SECONDS="30",
        MAX_UNACKED_STATES=str(UNACKED_LIMIT),
    ) as running:
        yield running["host"]


def two_guests(server, game):
    """A match of `game` with two guests seated; returns (host, match id, alice, bob)."""
    alice, bob = SiteClient(f"http://{server}"), SiteClient(f"http://{server}")
    alice.play_as_guest()
    bob.play_as_guest()
    created = alice.post_json("/api/matches/", {"game": game})
    bob.post_json(f"/api/matches/{created['id']}/join/")
    return server, created["id"], alice, bob


@pytest.fixture
def match(server):
    return two_guests(server, "connect_four")


def open_socket(host, match_id, client, *, subprotocols=None, port=None):
    cookie = f"sessionid={client.cookie('sessionid')}"
    target = f"127.0.0.1:{port}" if port else host
    return connect(
        f"ws://{target}/ws/match/{match_id}/",
        origin=f"http://{host}",
        additional_headers={"Cookie": cookie},
        subprotocols=subprotocols,
        ping_interval=None,  # the server's pings are what is under test
    )


async def frame_of(ws, kind, test=lambda f: True):
    async with asyncio.timeout(TIMEOUT):
        while True:
            raw = await ws.recv()
            frame = msgspec.msgpack.decode(raw) if isinstance(raw, bytes) else json.loads(raw)
            if frame["type"] == kind and test(frame):
                return frame, raw


async def test_the_server_picks_the_clients_first_supported_subprotocol(match):
    host, match_id, alice, _ = match
    offered = ["arcade.v9.json", "arcade.v1.msgpack", "arcade.v1.json"]
    async with open_socket(host, match_id, alice, subprotocols=offered) as ws:
        assert ws.subprotocol == "arcade.v1.msgpack"
        welcome, raw = await frame_of(ws, "welcome")
        assert welcome["subprotocol"] == "arcade.v1.msgpack"
        assert isinstance(raw, str), "control frames stay text"


async def test_a_client_that_offers_none_gets_json_version_1(match):
    host, match_id, alice, _ = match
    async with open_socket(host, match_id, alice) as ws:
        assert ws.subprotocol is None
        welcome, _ = await frame_of(ws, "welcome")
        assert welcome["subprotocol"] == "arcade.v1.json" and welcome["protocol"] == 1


async def test_a_client_that_offers_only_unknown_versions_is_told_so(match):
    host, match_id, alice, _ = match
    async with open_socket(host, match_id, alice, subprotocols=["arcade.v7.json"]) as ws:
        closing, _ = await frame_of(ws, "closing")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert ws.close_code == closing["code"] == 4426
    assert "arcade.v1.json" in closing["reason"] and "arcade.v1.msgpack" in closing["reason"]


async def test_msgpack_clients_get_states_as_binary_frames_and_json_clients_as_text(match):
    host, match_id, alice, bob = match
    async with (
        open_socket(host, match_id, alice, subprotocols=["arcade.v1.msgpack"]) as a,
        open_socket(host, match_id, bob, subprotocols=["arcade.v1.json"]) as b,
    ):
        for ws in (a, b):
            await frame_of(ws, "welcome")
            await ws.send(json.dumps({"type": "ready"}))
        binary_state, raw_a = await frame_of(a, "state")
        text_state, raw_b = await frame_of(b, "state")
        assert isinstance(raw_a, bytes) and isinstance(raw_b, str)
        assert binary_state == text_state  # the same state, two encodings
        assert len(raw_a) < len(raw_b.encode())


async def test_a_silent_peer_is_dropped_within_the_ping_bound(match):
    host, match_id, alice, bob = match
    proxy = CuttableProxy(int(host.rsplit(":", 1)[1]))
    try:
        async with (
            open_socket(host, match_id, alice) as a,
            open_socket(host, match_id, bob, port=proxy.port) as b,
        ):
            await frame_of(b, "welcome")
            await frame_of(a, "players", lambda f: all(p["connected"] for p in f["players"]))
            loop = asyncio.get_running_loop()
            silent_since = loop.time()
            proxy.blackhole()  # Bob's machine vanished: no data, no close, no pongs
            bound = PING_INTERVAL + PING_TIMEOUT + 2  # plus daphne's 2 s timeout check
            players, _ = await frame_of(a, "players", lambda f: not f["players"][1]["connected"])
            assert loop.time() - silent_since <= bound + 1
            # The seat is kept for the reconnection grace period, not given away.
            assert players["players"][1]["abandoned"] is False
    finally:
        proxy.close()


@pytest.fixture
def arena(server):
    return two_guests(server, "arena")


async def compact_state(ws):
    """The next binary (compact) frame: (kind, tick, raw)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                return raw[0], int.from_bytes(raw[1:5], "little"), raw


async def start(a, b):
    for ws in (a, b):
        await frame_of(ws, "welcome")
        await ws.send(json.dumps({"type": "ready"}))


async def test_compact_clients_get_deltas_from_the_state_they_acknowledged(arena):
    host, match_id, alice, bob = arena
    async with (
        open_socket(host, match_id, alice, subprotocols=["arcade.v1.compact"]) as a,
        open_socket(host, match_id, bob, subprotocols=["arcade.v1.json"]) as b,
    ):
        assert a.subprotocol == "arcade.v1.compact"
        await start(a, b)
        kind, tick, raw = await compact_state(a)
        assert kind == arena_wire.FULL, "nothing acknowledged yet: a full state"
        full_size = len(raw)
        have = {tick: arena_wire.decode(raw, None, ARENA_RATE)[0]}
        deltas = []
        while len(deltas) < 10:
            await a.send(json.dumps({"type": "ack", "tick": max(have)}))
            kind, tick, raw = await compact_state(a)
            base = tick - raw[5] if kind == arena_wire.DELTA else None
            if kind == arena_wire.DELTA:
                assert base in have, "a delta from a state this client acknowledged"
                deltas.append(len(raw))
            have[tick] = arena_wire.decode(raw, have.get(base), ARENA_RATE)[0]
        # What the compact client rebuilt is what the JSON client was told.
        text, _ = await frame_of(b, "state", lambda f: f["tick"] == max(have))
        rebuilt = arena_wire.view(have[max(have)], ARENA_RATE)
        assert [(s["x"], s["y"], s["hp"]) for s in rebuilt["ships"]] == [
            (s["x"], s["y"], s["hp"]) for s in text["state"]["ships"]
        ]
        assert max(deltas) < full_size


async def test_a_client_behind_on_acknowledgements_gets_no_more_states_until_it_catches_up(
    arena,
):
    host, match_id, alice, bob = arena
    async with (
        open_socket(host, match_id, alice, subprotocols=["arcade.v1.compact"]) as a,
        open_socket(host, match_id, bob, subprotocols=["arcade.v1.json"]) as b,
    ):
        await start(a, b)
        _, acked, _ = await compact_state(a)
        await a.send(json.dumps({"type": "ack", "tick": acked}))
        # Alice stops acknowledging (a slow reader). Bob's states are the clock: one
        # second of states later, the server has sent Alice at most the limit.
        await frame_of(b, "state", lambda f: f["tick"] >= acked + UNACKED_LIMIT + ARENA_RATE)
        received = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                while True:
                    received.append((await compact_state(a))[1])
        # (A state or two may have left before the server read her acknowledgement.)
        assert UNACKED_LIMIT <= len([t for t in received if t > acked]) <= UNACKED_LIMIT + 2
        # Once she acknowledges what she has, states flow again.
        await a.send(json.dumps({"type": "ack", "tick": max(received)}))
        _, resumed, _ = await compact_state(a)
        assert resumed > acked + UNACKED_LIMIT + ARENA_RATE
