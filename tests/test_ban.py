"""A ban bites at once: the banned player's live sockets close with 4003 and the reason.

On the channels-redis layer and a real Redis, with runners in this process; the
same across two daphne processes is in tests/e2e/test_ban.py.
"""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from games import services
from games.models import Match, Participant, Player
from tests.runtime import connect
from tests.test_match_socket import new_match, play_columns, start
from tests.test_matchmaking_socket import lobby, queued_players

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

BANNED = {"type": "closing", "code": 4003, "reason": "You are banned: cheating"}


async def test_a_ban_closes_the_players_match_and_lobby_sockets_within_a_second(
    match_factory, alice, bob
):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    b_lobby, a_lobby = await lobby(bob), await lobby(alice)
    loop = asyncio.get_running_loop()
    banned_at = loop.time()
    await sync_to_async(services.ban_player)(bob, "cheating")
    codes = await asyncio.gather(b.closed(timeout=1), b_lobby.closed(timeout=1))
    assert loop.time() - banned_at < 1
    assert codes == [4003, 4003]
    for sock in (b, b_lobby):
        assert [f for f in sock.seen if f["type"] == "closing"] == [BANNED]
    # The others stay: the opponent sees the seat disconnected, and their lobby is open.
    await a.connected_players([True, False])
    await a_lobby.send(type="ping", id=1)
    await a_lobby.until("pong", id=1)
    # They cannot come back; after the grace period the seat is abandoned.
    again = await connect(match, bob)
    assert await again.closed() == 4003
    result = await a.until("result", timeout=8)
    outcomes = {s["player_id"]: s["outcome"] for s in result["seats"]}
    assert outcomes == {alice.pk: "win", bob.pk: "abandoned"}
    await a.close()
    await a_lobby.close()


async def test_a_banned_spectator_is_closed_too(match_factory, alice, bob, stranger):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    watcher = await connect(match, stranger)
    await watcher.until("welcome")
    await sync_to_async(services.ban_player)(stranger, "cheating")
    assert await watcher.closed(timeout=1) == 4003
    # The match goes on for its players.
    await play_columns([a, b], [0, 1], [3])
    await b.state_where(lambda s: s["moves"] == 1)
    stored = await Match.objects.aget(pk=match.pk)
    assert stored.status == "active"
    await a.close()
    await b.close()


async def test_a_ban_takes_the_player_out_of_the_queue(alice):
    a = await lobby(alice)
    await a.send(type="queue", game="connect_four")
    await a.until("queued")
    await sync_to_async(services.ban_player)(alice, "cheating")
    assert await a.closed(timeout=1) == 4003
    # The socket's end (which closed() waited for) took its place in the queue.
    assert await queued_players() == []


async def test_nobody_loses_rating_to_a_banned_player(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob], status="active")
    await sync_to_async(services.ban_player)(bob, "cheating")
    # Bob (seat 1) wins the match he cheated in.
    results = [services.SeatRecord(0, "loss", 0, 2), services.SeatRecord(1, "win", 1, 1)]
    await sync_to_async(services.finish_match)(match.pk, results, "Seat 1 wins.")
    before = alice.rating_ordinal
    await alice.arefresh_from_db()
    await bob.arefresh_from_db()
    assert alice.rating_ordinal == before and alice.losses == 1
    loser = await Participant.objects.aget(match=match, player=alice)
    assert loser.rating_after is None
    # The banned winner's own rating is what the result says; his record too.
    assert bob.wins == 1


async def test_a_temporary_ban_says_when_it_ends_and_ends_by_itself(match_factory, alice, bob):
    match = await new_match(match_factory, players=[alice, bob])
    a, b = await start(match, alice, bob)
    until = timezone.now() + timedelta(hours=1)
    await sync_to_async(services.ban_player)(bob, "spam", until=until)
    assert await b.closed(timeout=1) == 4003
    reason = f"You are banned until {services.format_ban_end(until)}: spam"
    assert [f for f in b.seen if f["type"] == "closing"] == [
        {"type": "closing", "code": 4003, "reason": reason}
    ]
    refused = await connect(match, bob)
    assert await refused.closed() == 4003
    # The end passes (the stored end moved into the past, as a wait would leave it):
    # the next connection lifts the ban and takes the seat back.
    await Player.objects.filter(pk=bob.pk).aupdate(banned_until=timezone.now())
    again = await connect(match, bob)
    welcome = await again.until("welcome")
    assert welcome["you"]["seat"] == 1
    await a.connected_players([True, True])
    assert not (await Player.objects.aget(pk=bob.pk)).is_banned
    await again.close()
    await a.close()
