"""Matchmaking over the lobby socket: queue, matched, unqueue, disconnect, refusals;
on Redis and in single-process mode."""

import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from gameproject.asgi import application
from games import services
from games.models import Match
from games.supervisor import get_supervisor
from tests.runtime import ORIGIN, Socket, opened
from tests.test_lobby_socket import lobby_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def lobby(player=None):
    sock = Socket(await lobby_socket(player))
    await sock.until("lobby")
    return sock


async def queued_players(game="connect_four"):
    return [e.player_id for e in await get_supervisor().matchmaking.queue().queued(game)]


async def two_players_are_matched(alice, bob):
    a, b = await lobby(alice), await lobby(bob)
    await a.send(type="queue", game="connect_four")
    assert (await a.until("queued"))["game"] == "connect_four"
    await b.send(type="queue", game="connect_four")
    matched = [(await sock.until("matched"))["match"] for sock in (a, b)]
    assert matched[0] == matched[1]
    match_id = matched[0]["id"]
    assert matched[0] == {"id": match_id, "game": "connect_four", "url": f"/play/{match_id}/"}
    match = await Match.objects.aget(pk=match_id)
    seated = {pid async for pid in match.participants.values_list("player_id", flat=True)}
    assert seated == {alice.pk, bob.pk}
    assert await queued_players() == []


@pytest.mark.usefixtures("runners")
async def test_two_players_who_queue_are_matched_and_told_the_match(alice, bob):
    await two_players_are_matched(alice, bob)


@pytest.mark.usefixtures("memory_runners")
async def test_matchmaking_works_without_redis(alice, bob):
    await two_players_are_matched(alice, bob)


@pytest.mark.usefixtures("runners")
async def test_a_player_who_unqueued_is_not_matched(alice, bob):
    a, b = await lobby(alice), await lobby(bob)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await a.send(type="unqueue")
    assert await a.until("unqueued") == {"type": "unqueued", "game": "connect_four", "reason": None}
    await b.send(type="queue", game="connect_four")
    await b.until("queued")
    await get_supervisor().matchmaking.round(time.time())  # a round, now: still nobody to pair
    assert await queued_players() == [bob.pk]
    assert not await Match.objects.aexists()
    await a.send(type="unqueue")
    assert (await a.until("error"))["code"] == "not_queued"


@pytest.mark.usefixtures("runners")
async def test_closing_the_lobby_socket_leaves_the_queue(alice, bob):
    a, b = await lobby(alice), await lobby(bob)
    await a.send(type="queue", game="arena")
    await a.until("queued")
    await b.send(type="queue", game="connect_four")
    await b.until("queued")
    await a.close()  # returns once the consumer has run its disconnect()
    assert await queued_players("arena") == []
    assert await queued_players("connect_four") == [bob.pk]


@pytest.mark.usefixtures("runners")
async def test_queueing_for_another_game_moves_the_player(alice):
    a = await lobby(alice)
    await a.send(type="queue", game="arena")
    await a.until("queued")
    await a.send(type="queue", game="connect_four")
    await a.until("queued", game="connect_four")
    assert await queued_players("arena") == []
    assert await queued_players("connect_four") == [alice.pk]


@pytest.mark.usefixtures("runners")
async def test_anonymous_visitors_are_told_to_sign_in_first():
    watcher = await lobby()
    await watcher.send(type="queue", game="connect_four")
    error = await watcher.until("error")
    assert error["code"] == "not_authenticated" and "guest" in error["message"]


@pytest.mark.usefixtures("runners")
async def test_guests_may_queue(player_factory):
    guest = await sync_to_async(player_factory)(is_guest=True)
    sock = await lobby(guest)
    await sock.send(type="queue", game="connect_four")
    await sock.until("queued")


@pytest.mark.usefixtures("runners")
async def test_a_banned_player_gets_a_clear_error(alice):
    await sync_to_async(services.ban_player)(alice, "griefing")
    a = await lobby(alice)  # connected before or after the ban: the queue checks it afresh
    await a.send(type="queue", game="connect_four")
    error = await a.until("error")
    assert error == {
        "type": "error",
        "code": "player_banned",
        "message": "You are banned: griefing",
    }
    assert await queued_players() == []


@pytest.mark.usefixtures("runners")
async def test_a_player_banned_while_queued_is_told_and_the_other_waits_on(alice, bob):
    a, b = await lobby(alice), await lobby(bob)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await sync_to_async(services.ban_player)(alice, "griefing")
    await b.send(type="queue", game="connect_four")  # the round it starts pairs them
    unqueued = await a.until("unqueued")
    assert unqueued["reason"] == "You are banned: griefing"
    assert await queued_players() == [bob.pk]
    assert not await Match.objects.aexists()


@pytest.mark.usefixtures("runners")
async def test_bad_queue_requests_get_error_frames(alice):
    a = await lobby(alice)
    await a.send(type="queue", game="chess")
    assert (await a.until("error"))["code"] == "invalid_request"
    await a.send(type="queue")
    assert (await a.until("error"))["code"] == "invalid"
    await a.send(type="input", data={})
    error = await a.until("error")
    assert error["code"] == "unknown_type" and "ping, queue, unqueue" in error["message"]
    await a.send(type="ping", id=1)
    await a.until("pong")  # the socket stays open after errors


@pytest.mark.usefixtures("runners")
async def test_the_lobby_accepts_the_json_subprotocol_that_browsers_offer():
    # A browser fails a handshake whose offered subprotocols got no answer.
    communicator = WebsocketCommunicator(
        application, "/ws/lobby/", headers=[(b"origin", ORIGIN)], subprotocols=["arcade.v1.json"]
    )
    opened.append(communicator)
    connected, subprotocol = await communicator.connect(5)
    assert connected and subprotocol == "arcade.v1.json"
