"""However a socket's consumer ends (a handler raising, a connect failing half-way, the
database away, the client gone mid-send), its seat shows disconnected and every
registration it made is gone: through the real ASGI stack on Redis, runners here."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django import db as django_db

from gameproject.asgi import application
from games import access
from games.cluster import presence
from games.cluster import redis as cluster_redis
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


async def test_a_presence_publish_held_up_while_a_socket_ends_does_not_bring_it_back(
    runners, match_factory, alice, bob, monkeypatch
):
    """The heartbeat (or the republish after an outage) reads the process's sockets, then
    may wait for a pooled connection; a socket ending meanwhile has its entry removed on
    a connection already free, before the publish lands."""
    match = await seated(match_factory, alice, bob)
    a, _ = await join(match, alice)
    await join(match, bob)
    await until_clean(runners, expected_sockets=2)
    client = cluster_redis.async_client()
    original_zadd = client.zadd
    held, release = asyncio.Event(), asyncio.Event()

    async def zadd(*args, **kwargs):
        held.set()
        await release.wait()  # the publish waits here, as for a connection from a full pool
        return await original_zadd(*args, **kwargs)

    monkeypatch.setattr(client, "zadd", zadd)
    publish = asyncio.create_task(runners.presence.republish())  # the heartbeat's own path
    await asyncio.wait_for(held.wait(), 5)
    monkeypatch.setattr(client, "zadd", original_zadd)  # the removal and others go through
    await a.close()
    await until_clean(runners, expected_sockets=1)  # her entry was removed from Redis
    release.set()
    await asyncio.wait_for(publish, 5)
    online = await sync_to_async(presence.current)()
    assert [c.player_id for c in online] == [bob.pk]
    assert await client.zcard(cluster_redis.key("presence")) == 1  # not even an expired one


async def test_joining_groups_again_while_a_socket_ends_does_not_bring_it_back(
    runners, alice, monkeypatch, settings
):
    """After a Redis outage every socket here joins its groups again, one after another; a
    socket that ends while its add waits has its own removals land first."""
    cookie = await sync_to_async(_session_cookie)(alice)
    headers = [(b"origin", ORIGIN), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/lobby/", headers=headers)
    opened.append(communicator)
    assert (await communicator.connect(5))[0]
    await communicator.receive_output(5)  # the lobby frame
    (consumer,) = runners.lobby.sockets
    channel = consumer.channel_name
    layer = get_channel_layer()
    original_add = layer.group_add
    held, release = asyncio.Event(), asyncio.Event()

    async def group_add(group, channel_name):
        held.set()
        await release.wait()  # the add waits here, as for a connection from a full pool
        await original_add(group, channel_name)

    monkeypatch.setattr(layer, "group_add", group_add)
    again = asyncio.create_task(runners._register_again())
    await asyncio.wait_for(held.wait(), 5)
    await communicator.disconnect()
    await until_clean(runners, expected_sockets=0)  # its two groups were left in Redis
    release.set()
    await asyncio.wait_for(again, 5)
    client = cluster_redis.async_client()
    groups = [key async for key in client.scan_iter(match=f"{settings.REDIS_PREFIX}:group:*")]
    assert [await client.zscore(key, channel) for key in groups] == [None] * len(groups)


async def test_a_socket_ends_at_once_when_its_layer_receive_swallows_the_cancel(
    runners, match_factory, alice, bob, monkeypatch
):
    """channels-redis can take the cancel of a receive for a failed read and wait on; the
    socket must not stay registered until daphne kills its task ten seconds later."""
    layer = get_channel_layer()
    original_receive = layer.receive

    async def receive(channel):
        try:
            return await original_receive(channel)
        except asyncio.CancelledError:  # a read cut short, taken for a failed one: wait on
            return await asyncio.get_running_loop().create_future()

    monkeypatch.setattr(layer, "receive", receive)
    match = await seated(match_factory, alice, bob)
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    await b.connected_players([True, True])
    # The client goes (no wait for the task: the test client would cancel it again after
    # its timeout, as daphne does after ten seconds).
    await a.ws.send_input({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(b.connected_players([False, True]), BOUND)
    await until_clean(runners, expected_sockets=1)
    online = await sync_to_async(presence.current)()
    assert [c.player_id for c in online] == [bob.pk]
