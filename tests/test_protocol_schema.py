"""Every outbound frame has one builder and a declared schema in games/protocol.py, and
every frame real sockets send fits the schema of its type."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from gameproject.asgi import application
from games import protocol, services
from tests.runtime import ORIGIN, TIMEOUT, Socket, _session_cookie, connect, join, opened
from tests.test_lobby_socket import lobby_socket

db = sync_to_async

PLAYER = {"seat": 0, "player_id": 7, "name": "SwiftOtter42", "connected": True}
PLAYER |= {"ready": True, "abandoned": False}
AWAY = {**PLAYER, "seat": 1, "player_id": 9, "connected": False, "grace_left": 12.5}
SEAT = {"seat": 0, "player_id": 7, "name": "SwiftOtter42", "outcome": "win", "score": 1}
SEAT |= {"rank": 1, "rating_before": 0.0, "rating_after": 2.47}
RESULT = {"status": "finished", "summary": "Player 1 wins.", "rated": True, "seats": [SEAT]}
MATCH = protocol.WelcomeMatch("5b0c", "connect_four", "active", 10, {"turn_seconds": 30}, 2)
GAME = {"key": "arena", "title": "Arena", "description": "Ships.", "min_players": 2}
GAME |= {"max_players": 8, "tick_rate": 20, "settings": {}, "open": [{"id": "8c1f"}]}
GAME |= {"live": [{"id": "5b0c"}]}
LINK = protocol.MatchLink("8c1f", "arena", "/play/8c1f/")

# Each builder, called as its callers call it: (type, output), several per type where a
# field is optional or nullable.
SAMPLES: list[tuple[str, Any]] = [
    (
        "welcome",
        protocol.welcome(
            MATCH, protocol.You(7, 0, "player"), [PLAYER], subprotocol=None, tick=0, state=None
        ),
    ),
    (
        "welcome",
        protocol.welcome(
            MATCH,
            protocol.You(9, None, "spectator"),
            [PLAYER],
            subprotocol=protocol.SUBPROTOCOL_MSGPACK,
            tick=130,
            state={"tick": 130, "board": [[0]]},
        ),
    ),
    (
        "welcome",
        protocol.welcome(
            MATCH,
            protocol.You(7, 0, "player"),
            [],
            subprotocol=None,
            tick=0,
            state=None,
            result=RESULT,
        ),
    ),
    ("players", protocol.players([PLAYER])),
    # The start's countdown, and a seat away within its grace period.
    ("players", protocol.players([PLAYER, AWAY], starts_in=3.0)),
    (
        "welcome",
        protocol.welcome(
            MATCH,
            protocol.You(7, 0, "player"),
            [PLAYER, AWAY],
            subprotocol=None,
            tick=0,
            state={"tick": 0},
            starts_in=1.95,
        ),
    ),
    ("state", protocol.encode(protocol.state(3, {"tick": 3}, [{"kind": "turn", "seat": 1}]))),
    ("result", protocol.result(RESULT)),
    ("aborted", protocol.aborted("Aborted: every player left.")),
    ("chat", protocol.chat(7, "SwiftOtter42", 0, "gg")),
    ("chat", protocol.chat(9, "Watcher", None, "nice")),
    ("notice", protocol.notice(31, "broadcast", "Restart in 5 minutes.", "2026-12-01T21:15:00")),
    ("notice", protocol.notice(32, "match", "Please keep the chat friendly.")),
    ("pong", protocol.pong(protocol.Ping(id=1, t=12.5))),
    ("pong", protocol.pong(protocol.Ping(id=2))),
    ("closing", protocol.closing(protocol.CloseCode.SUPERSEDED)),
    ("closing", protocol.closing(protocol.CloseCode.FORBIDDEN, "You are banned: spam")),
    ("error", protocol.error(protocol.ErrorCode.INVALID, "Invalid message.")),
    ("error", protocol.error(protocol.ErrorCode.ILLEGAL, "Not now.", reason="not_your_turn")),
    ("error", protocol.error(protocol.ErrorCode.IN_MATCH, "Finish it.", match=LINK)),
    ("lobby", protocol.lobby([GAME], 12)),
    ("queued", protocol.queued("arena", 2.0)),
    ("unqueued", protocol.unqueued("arena")),
    ("unqueued", protocol.unqueued("arena", "Your place lapsed.")),
    ("matched", protocol.matched("8c1f", "arena", "/play/8c1f/")),
    ("rematch", protocol.rematch("8c1f", "waiting", [(7, "SwiftOtter42")], [])),
    ("rematch", protocol.rematch("8c1f", "declined", [], [(9, "BoldRaven7", "left")])),
]


def check_frame(frame: dict[str, Any] | str | bytes) -> Any:
    """Decode `frame` strictly with the schema of its type; fails the test if it does not fit."""
    if isinstance(frame, bytes):
        kind = msgspec.msgpack.decode(frame)["type"]
        return msgspec.msgpack.decode(frame, type=protocol.SCHEMAS[kind])
    text = frame if isinstance(frame, str) else json.dumps(frame)
    kind = json.loads(text).get("type")
    assert kind in protocol.SCHEMAS, f"a frame of undeclared type {kind!r}: {text[:200]}"
    return msgspec.json.decode(text, type=protocol.SCHEMAS[kind])


# --- Builders and schemas -------------------------------------------------------------------


def test_every_frame_type_has_exactly_one_builder_and_one_schema():
    assert set(protocol.BUILDERS) == set(protocol.SCHEMAS)
    assert len(set(protocol.BUILDERS.values())) == len(protocol.BUILDERS)
    assert {kind for kind, _ in SAMPLES} == set(protocol.BUILDERS)


@pytest.mark.parametrize(("kind", "output"), SAMPLES, ids=[kind for kind, _ in SAMPLES])
def test_each_builder_output_fits_its_schema(kind, output):
    assert json.loads(output)["type"] == kind
    check_frame(output)


def test_a_schema_refuses_a_missing_an_extra_or_a_mistyped_field():
    good = json.loads(protocol.queued("arena", 2.0))
    for bad in (
        {k: v for k, v in good.items() if k != "window"},
        {**good, "extra": 1},
        {**good, "window": "wide"},
    ):
        with pytest.raises(msgspec.ValidationError):
            check_frame(bad)


def test_the_state_frame_is_the_same_in_json_and_msgpack():
    frame = protocol.state(5, {"tick": 5, "ships": []}, [{"kind": "respawn", "seat": 1}])
    text, binary = protocol.encode(frame), protocol.encode_binary(frame)
    assert msgspec.msgpack.decode(binary) == json.loads(text)
    assert check_frame(binary) == check_frame(text)


def test_optional_fields_are_left_out_rather_than_null():
    # The wire format from before the schemas: no `reason`/`match` on a plain error,
    # no `result` on the welcome of a match in progress; but `unqueued.reason` is null.
    assert json.loads(protocol.error("invalid", "x")) == {
        "type": "error",
        "code": "invalid",
        "message": "x",
    }
    active = json.loads(
        protocol.welcome(
            MATCH, protocol.You(7, 0, "player"), [], subprotocol=None, tick=0, state=None
        )
    )
    assert "result" not in active and active["state"] is None
    assert json.loads(protocol.unqueued("arena"))["reason"] is None


# --- Real sockets ------------------------------------------------------------------------


async def msgpack_socket(match, player) -> WebsocketCommunicator:
    cookie = await db(_session_cookie)(player)
    headers = [(b"origin", ORIGIN), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(
        application,
        f"/ws/match/{match.pk}/",
        headers=headers,
        subprotocols=[protocol.SUBPROTOCOL_MSGPACK],
    )
    opened.append(communicator)
    connected, _ = await communicator.connect(TIMEOUT)
    assert connected
    return communicator


async def drain(communicator: WebsocketCommunicator) -> list[str | bytes]:
    """Every frame the socket has been sent so far (a ping's pong marks the end)."""
    await communicator.send_to(text_data=json.dumps({"type": "ping", "id": 424242}))
    frames: list[str | bytes] = []
    while True:
        output = await communicator.receive_output(TIMEOUT)
        frame = output.get("text") or output.get("bytes")
        frames.append(frame)
        if isinstance(frame, str) and json.loads(frame) == {**json.loads(frame), "id": 424242}:
            return frames


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_every_frame_of_a_whole_match_fits_its_schema(
    match_factory, player_factory, alice, bob, stranger
):
    match = await db(match_factory)("connect_four", players=[alice, bob])
    a, _ = await join(match, alice)
    watcher, _ = await join(match, stranger)
    binary = await msgpack_socket(match, await db(player_factory)())  # a spectator on msgpack
    superseded, _ = await join(match, bob)
    b, _ = await join(match, bob)  # supersedes the first: a `closing` frame, then 4010
    assert await superseded.closed() == protocol.CloseCode.SUPERSEDED
    await a.send(type="ping", id=1, t=5.5)
    await a.send(type="chat", text="good luck")
    await watcher.send(type="chat", text="x" * 201)  # chat_limit
    await watcher.send(type="input", data={"column": 3})  # spectator
    await watcher.until("error", code="chat_limit")
    await watcher.until("error", code="spectator")
    await b.send(type="nonsense")  # unknown_type
    await a.send(type="resync")
    await a.where("welcome", lambda f: len(f["players"]) == 2)
    for sock in (a, b):
        await sock.send(type="ready")
    started = await a.until("state")
    first = started["state"]["to_move"]
    players = [a, b] if first == 0 else [b, a]
    await players[1].send(type="input", data={"column": 0})  # illegal_input, with a reason
    for index, column in enumerate([0, 1, 0, 1, 0, 1, 0]):
        await a.state_where(lambda s, n=index: s["moves"] == n)
        await players[index % 2].send(type="input", data={"column": column})
    await a.until("result")
    await b.until("result")

    heard = [frame for sock in (a, b, watcher, superseded) for frame in sock.seen]
    sent = heard + await drain(binary)
    for frame in sent:
        check_frame(frame)
    kinds = {
        f["type"] if isinstance(f, dict) else check_frame(f).__struct_config__.tag for f in sent
    }
    assert kinds >= {"welcome", "players", "state", "chat", "pong", "error", "result", "closing"}
    assert any(isinstance(frame, bytes) for frame in sent)  # msgpack states were checked too
    codes = {f["code"] for f in heard if f["type"] == "error"}
    assert codes >= {"chat_limit", "spectator", "unknown_type", "illegal_input"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_an_abort_fits_its_schema(match_factory, alice, bob):
    match = await db(match_factory)("connect_four", players=[alice, bob])
    a, _ = await join(match, alice)
    await db(services.abort_match)(match.pk, "operator ended it")
    check_frame(await a.until("aborted"))
    await a.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_refusals_after_the_handshake_fit_the_closing_schema(match_factory, alice):
    match = await db(match_factory)("connect_four", players=[alice])
    nobody = await connect(match)  # no session: closed with 4001 after a `closing` frame
    assert await nobody.closed() == protocol.CloseCode.NOT_AUTHENTICATED
    assert [f["type"] for f in nobody.seen] == ["closing"]
    check_frame(nobody.seen[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_the_welcome_to_a_finished_match_fits_the_one_welcome_schema(
    match_factory, alice, bob
):
    match = await db(match_factory)("connect_four", players=[alice, bob], status="finished")
    late, welcome = await join(match, alice)
    await late.close()
    check_frame(welcome)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_every_frame_of_the_lobby_socket_fits_its_schema(match_factory, alice, bob):
    a, b = Socket(await lobby_socket(alice)), Socket(await lobby_socket(bob))
    anonymous = Socket(await lobby_socket())
    for sock in (a, b, anonymous):
        await sock.until("lobby")
    await anonymous.send(type="queue", game="arena")
    await anonymous.until("error", code="not_authenticated")
    await a.send(type="unqueue")  # not_queued
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await a.send(type="unqueue")
    await a.until("unqueued")
    await a.send(type="queue", game="connect_four")
    await b.send(type="queue", game="connect_four")
    for sock in (a, b):
        await sock.until("matched")
    playing = await db(match_factory)("arena", players=[alice, bob], status="active")
    await a.send(type="queue", game="arena")  # in_match, naming the match
    refused = await a.until("error", code="in_match")
    assert refused["match"]["id"] == str(playing.pk)
    await b.send(type="ping", id=3)
    await b.until("pong")

    sent = [frame for sock in (a, b, anonymous) for frame in sock.seen]
    for frame in sent:
        check_frame(frame)
    kinds = {frame["type"] for frame in sent}
    assert kinds >= {"lobby", "queued", "unqueued", "matched", "error", "pong"}
    codes = {f["code"] for f in sent if f["type"] == "error"}
    assert codes >= {"not_authenticated", "not_queued", "in_match"}


@pytest.mark.django_db
def test_the_lobby_over_http_is_the_lobby_frame(client, match_factory):
    match_factory("arena")  # one open match, so `open` is not empty
    response = client.get("/api/lobby/")
    frame = check_frame(response.content.decode())
    assert isinstance(frame, protocol.LobbyFrame)
    assert [m["game"] for g in frame.games for m in g.open] == ["arena"]
