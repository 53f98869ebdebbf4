"""Matchmaking over the lobby socket: queue, matched, unqueue, disconnect, refusals,
a place in the queue lost without a match, and players who pressed "Play now" without
a socket met by those who queued; on Redis and in single-process mode."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from gameproject.asgi import application
from games import services
from games.matchmaking import Entry, rules_for
from games.models import Match, Player
from games.runtime.process import get_runtime
from games.sockets.lobby import LobbyConsumer
from tests.runtime import ORIGIN, Socket, opened
from tests.test_lobby_socket import lobby_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def lobby(player=None):
    sock = Socket(await lobby_socket(player))
    await sock.until("lobby")
    return sock


async def queued_players(game="connect_four"):
    return [e.player_id for e in await get_runtime().matchmaking.queue().queued(game)]


@pytest.fixture(params=["runners", "memory_runners"])
def either_backend(request):
    """The queue in Redis and in memory: the code under test differs between them."""
    return request.getfixturevalue(request.param)


async def heard_no_unqueued(sock):
    # The pong comes after every frame the socket was sent before the ping.
    await sock.send(type="ping", id=99)
    await sock.until("pong", id=99)
    assert [f for f in sock.seen if f["type"] == "unqueued"] == []


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
    await get_runtime().matchmaking.round(time.time())  # a round, now: still nobody to pair
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
    # Flagged without the service's announcement (as when Redis was away at the
    # ban's commit, so the lobby socket stayed open): the queue refuses them itself.
    await Player.objects.filter(pk=alice.pk).aupdate(
        is_banned=True, ban_reason="griefing", banned_at=timezone.now()
    )
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


# --- "Play now" without a socket (the JSON API's quick join) meets the queue ---------------


async def seats_of(match_id):
    seats = Match(pk=match_id).participants.order_by("seat").values_list("player_id", "seat")
    return [pair async for pair in seats]


@pytest.mark.usefixtures("either_backend")
async def test_a_player_who_queues_is_seated_in_the_match_a_quick_join_opened(alice, bob):
    opened_by_bob = await sync_to_async(services.quick_join)(bob, "connect_four")
    a = await lobby(alice)
    await a.send(type="queue", game="connect_four")
    matched = (await a.until("matched"))["match"]
    assert matched == {
        "id": str(opened_by_bob.pk),
        "game": "connect_four",
        "url": f"/play/{opened_by_bob.pk}/",
    }
    assert await seats_of(opened_by_bob.pk) == [(bob.pk, 0), (alice.pk, 1)]
    assert await queued_players() == []
    assert await Match.objects.acount() == 1


@pytest.mark.usefixtures("either_backend")
async def test_a_queued_player_is_seated_in_a_match_a_quick_join_opens_later(alice, bob):
    a = await lobby(alice)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await get_runtime().matchmaking.round(time.time())  # alone: still waiting
    assert await queued_players() == [alice.pk]
    opened_by_bob = await sync_to_async(services.quick_join)(bob, "connect_four")
    # Nobody was waiting in a match, so bob opened one; the next round seats alice there.
    matched = (await a.until("matched"))["match"]
    assert matched["id"] == str(opened_by_bob.pk)
    assert await seats_of(opened_by_bob.pk) == [(bob.pk, 0), (alice.pk, 1)]
    assert await queued_players() == []


# --- Refused while playing a match ---------------------------------------------------------

PLAYING = "You are playing a match already: finish it or rejoin it first."


@pytest.mark.usefixtures("runners")
async def test_a_player_in_a_match_in_progress_cannot_queue_and_is_told_which(
    alice, bob, match_factory
):
    playing = await sync_to_async(match_factory)("arena", players=[alice, bob], status="active")
    a = await lobby(alice)
    await a.send(type="queue", game="connect_four")
    error = await a.until("error")
    match = {"id": str(playing.pk), "game": "arena", "url": f"/play/{playing.pk}/"}
    assert error == {"type": "error", "code": "in_match", "message": PLAYING, "match": match}
    assert await queued_players() == []


@pytest.mark.usefixtures("either_backend")
async def test_a_player_whose_match_started_while_queued_is_refused_and_the_other_waits_on(
    alice, bob, player_factory, match_factory
):
    carol = await sync_to_async(player_factory)()
    waiting = await sync_to_async(match_factory)("arena", players=[alice, carol])
    a, b = await lobby(alice), await lobby(bob)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await sync_to_async(services.start_match)(waiting.pk)
    await b.send(type="queue", game="connect_four")  # the round it starts pairs them
    assert (await a.until("unqueued"))["reason"] == PLAYING
    assert await queued_players() == [bob.pk]
    assert await Match.objects.acount() == 1


# --- A place lost without a match ------------------------------------------------------------


@pytest.mark.usefixtures("either_backend")
async def test_a_player_whose_place_lapsed_while_their_process_stalled_is_told(alice):
    a = await lobby(alice)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    # The process stalled past the TTL, and another process's take dropped the entry;
    # this process's next round (every half second) finds it gone.
    later = time.time() + settings.MATCHMAKING_TTL_SECONDS + 5
    hub = get_runtime().matchmaking
    assert await hub.queue().take("connect_four", later, rules_for("connect_four")) == []
    assert await a.until("unqueued") == {
        "type": "unqueued",
        "game": "connect_four",
        "reason": "Your place in the queue lapsed; press Play now again.",
    }
    assert hub.local == {}


@pytest.mark.usefixtures("either_backend")
async def test_a_player_who_queued_from_another_window_is_told_so_in_the_first(alice):
    first, second = await lobby(alice), await lobby(alice)
    await first.send(type="queue", game="connect_four")
    await first.until("queued")
    await second.send(type="queue", game="arena")
    await second.until("queued")
    unqueued = await first.until("unqueued")
    assert unqueued == {
        "type": "unqueued",
        "game": "connect_four",
        "reason": "You queued from another window.",
    }
    assert await queued_players("arena") == [alice.pk]
    await heard_no_unqueued(second)


@pytest.mark.parametrize("markers_lost", [False, True], ids=["renewed", "after-a-long-stall"])
@pytest.mark.usefixtures("either_backend")
async def test_a_matched_player_is_never_told_unqueued_even_if_renewed_before_hearing_it(
    alice, bob, monkeypatch, markers_lost
):
    # The sockets read `matched` only when the test lets them, so this process renews
    # their entries after the match was made and before they heard of it.
    release, lost_place_read = asyncio.Event(), asyncio.Queue()
    hear_matched, read_lost_place = (
        LobbyConsumer.matchmaking_matched,
        LobbyConsumer.matchmaking_lost_place,
    )

    async def matched_later(consumer, event):
        await release.wait()
        await hear_matched(consumer, event)

    async def lost_place(consumer, event):
        await read_lost_place(consumer, event)
        lost_place_read.put_nowait(consumer.channel_name)

    monkeypatch.setattr(LobbyConsumer, "matchmaking_matched", matched_later)
    monkeypatch.setattr(LobbyConsumer, "matchmaking_lost_place", lost_place)
    hub = get_runtime().matchmaking
    hub.stop()  # the test runs the rounds
    a, b = await lobby(alice), await lobby(bob)
    for sock in (a, b):
        await sock.send(type="queue", game="connect_four")
        await sock.until("queued")
    tokens = set(hub.local)
    await hub.round(time.time())
    assert await Match.objects.aexists()
    if markers_lost:
        # So long a stall that a later finish dropped the markers as expired: the
        # entries now look lapsed, and the sockets are sent word of it.
        far = time.time() + settings.MATCHMAKING_TTL_SECONDS + 5
        nobody = Entry(0, "connect_four", "specific.nobody!", 25.0, 0.0)
        await hub.queue().finish([nobody], far, settings.MATCHMAKING_TTL_SECONDS)
    await hub.round(time.time())
    assert hub.local == {}
    assert hub.lost_place == (tokens if markers_lost else set())
    release.set()
    for sock in (a, b):
        await sock.until("matched")
    if markers_lost:  # the word arrives after `matched`, and is dropped
        read = {await asyncio.wait_for(lost_place_read.get(), 5) for _ in tokens}
        assert read == tokens
    for sock in (a, b):
        await heard_no_unqueued(sock)
