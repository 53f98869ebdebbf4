"""However a socket's consumer ends (a handler raising, a connect failing half-way, the
database away, the client gone mid-send), its seat shows disconnected and every
registration it made is gone: through the real ASGI stack on Redis, runners here."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected
from channels.testing import WebsocketCommunicator
from django import db as django_db

from gameproject.asgi import application
from games import access
from games.cluster import presence
from games.protocol import CloseCode
from games.sockets.lobby import LobbyConsumer
from games.sockets.match import MatchConsumer
from tests.runtime import ORIGIN, _session_cookie, connect, join, opened

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

BOUND = 5.0  # seconds: everything a socket left is gone within this (docs/security.md)


async def seated(match_factory, *players):
    return await sync_to_async(match_factory)("connect_four", players=list(players))


async def until_clean(supervisor, expected_sockets: int) -> None:
    """The supervisor, runners, lobby, presence and cleanup hold only what is expected."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while True:
        counts = supervisor.registrations()
        clean = counts["supervisor"] == expected_sockets and counts["cleanup_pending"] == 0
        clean = clean and counts["presence"] == expected_sockets and counts["lobby"] == 0
        if clean and counts["runner_seats"] + counts["runner_spectators"] == expected_sockets:
            return
        assert loop.time() < deadline, f"still registered after {BOUND} s: {counts}"
        await asyncio.sleep(0.05)  # the cleanup runs on other tasks


async def test_a_handler_that_raises_leaves_the_seat_disconnected(
    runners, match_factory, alice, bob, monkeypatch
):
    match = await seated(match_factory, alice, bob)
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    await b.connected_players([True, True])
    original = MatchConsumer.receive

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "boom":
            raise RecursionError("maximum recursion depth exceeded")  # a bug deep in a handler
        await original(self, text_data, bytes_data)

    monkeypatch.setattr(MatchConsumer, "receive", receive)
    await a.send_raw("boom")
    with pytest.raises(RecursionError):
        await a.ws.wait(5)  # the consumer ended with its bug (daphne closes 1011)
    await b.connected_players([False, True])
    await until_clean(runners, expected_sockets=1)


async def test_a_connect_that_fails_after_joining_undoes_the_join(
    runners, match_factory, alice, bob, monkeypatch
):
    match = await seated(match_factory, alice, bob)
    b, _ = await join(match, bob)
    await b.connected_players([False, True])
    original = presence.LocalPresence.add

    async def add(self, connection):
        if connection.player_id == alice.pk:
            raise RuntimeError("a bug after the runner seated her")
        await original(self, connection)

    monkeypatch.setattr(presence.LocalPresence, "add", add)
    a = await connect(match, alice)
    with pytest.raises(RuntimeError):
        await a.ws.wait(5)
    # She was seated by the runner, then the socket died: her seat must not stay connected.
    await b.where("players", lambda f: [p["connected"] for p in f["players"]] == [False, True])
    await until_clean(runners, expected_sockets=1)


async def test_a_handshake_while_the_database_is_away_is_told_to_try_again(
    runners, match_factory, alice, bob, monkeypatch
):
    match = await seated(match_factory, alice, bob)

    def unreachable(user, match_id):
        raise django_db.OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(access, "get_match_connection", unreachable)
    a = await connect(match, alice)
    closing = await a.until("closing")
    assert closing["code"] == CloseCode.TRY_AGAIN
    assert await a.closed() == CloseCode.TRY_AGAIN
    await until_clean(runners, expected_sockets=0)


async def test_a_lobby_socket_is_forgotten_however_it_ends(runners, alice, monkeypatch):
    cookie = await sync_to_async(_session_cookie)(alice)
    headers = [(b"origin", ORIGIN), (b"cookie", f"sessionid={cookie}".encode())]
    original = LobbyConsumer.receive

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "boom":
            raise ValueError("a bug")
        await original(self, text_data, bytes_data)

    monkeypatch.setattr(LobbyConsumer, "receive", receive)
    communicator = WebsocketCommunicator(application, "/ws/lobby/", headers=headers)
    opened.append(communicator)
    assert (await communicator.connect(5))[0]
    await communicator.receive_output(5)  # the lobby frame
    assert runners.registrations()["lobby"] == 1
    await communicator.send_to(text_data="boom")
    with pytest.raises(ValueError):
        await communicator.wait(5)
    await until_clean(runners, expected_sockets=0)


async def test_frames_to_a_socket_its_client_already_closed_are_dropped_quietly():
    """autobahn refuses a send once the client's close has begun: not an error for us."""
    sent = []

    async def server_send(message):
        if message["type"] == "websocket.send":
            raise Disconnected("Attempt to send on a closed protocol")
        sent.append(message)

    consumer = MatchConsumer()
    consumer.server_send = server_send
    await consumer._send_to_server({"type": "websocket.accept"})
    await consumer._send_to_server({"type": "websocket.send", "text": "{}"})  # raises inside
    assert consumer.closing
    await consumer._send_to_server({"type": "websocket.close", "code": 4008})
    assert sent == [{"type": "websocket.accept"}]  # nothing after the failed send
