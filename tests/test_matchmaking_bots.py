"""The queue fills a lone player's match with bots after MATCHMAKING_BOT_FILL_SECONDS, on
Redis and in single-process mode; 0 turns it off. A person queued later takes a bot's
seat while that match has not started; a match vs computer is never offered."""

import time

import pytest
from asgiref.sync import sync_to_async

from games import services
from games.models import Match
from games.runtime.process import get_runtime
from tests.test_matchmaking_socket import either_backend, lobby, queued_players  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def seated(match_id):
    match = await Match.objects.aget(pk=match_id)
    rows = match.participants.select_related("player").order_by("seat")
    return match, [(p.player_id, p.player.is_bot) async for p in rows]


@pytest.mark.usefixtures("either_backend")
@pytest.mark.parametrize("game", ["connect_four", "arena"])
async def test_a_player_alone_in_the_queue_long_enough_gets_a_match_with_bots(
    alice, game, settings
):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 10
    sock = await lobby(alice)
    await sock.send(type="queue", game=game)
    await sock.until("queued")
    hub = get_runtime().matchmaking
    await hub.round(time.time() + 5)  # not yet
    assert await queued_players(game) == [alice.pk]
    assert not await Match.objects.aexists()
    await hub.round(time.time() + 11)
    matched = (await sock.until("matched"))["match"]
    match, seats = await seated(matched["id"])
    assert seats == [(alice.pk, False), (seats[1][0], True)]  # the arena's minimum is two
    assert not match.is_private and match.game == game
    assert await queued_players(game) == []


@pytest.mark.usefixtures("either_backend")
async def test_no_bots_when_the_setting_is_zero(alice, settings):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 0
    sock = await lobby(alice)
    await sock.send(type="queue", game="connect_four")
    await sock.until("queued")
    await get_runtime().matchmaking.round(time.time() + 600)
    assert await queued_players() == [alice.pk]
    assert not await Match.objects.aexists()


@pytest.mark.usefixtures("either_backend")
@pytest.mark.parametrize("game", ["connect_four", "arena"])
async def test_a_person_queued_after_a_bot_fill_takes_the_bots_seat_in_that_waiting_match(
    alice, bob, game, settings
):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 10
    alone = await lobby(alice)
    await alone.send(type="queue", game=game)
    await alone.until("queued")
    hub = get_runtime().matchmaking
    await hub.round(time.time() + 11)
    with_bot = (await alone.until("matched"))["match"]["id"]
    _, seats = await seated(with_bot)
    assert seats[1][1]  # a bot, while Alice's page has not started the match yet

    later = await lobby(bob)
    await later.send(type="queue", game=game)
    await later.until("queued")
    await hub.round(time.time())
    assert (await later.until("matched"))["match"]["id"] == with_bot
    match, seats = await seated(with_bot)
    assert seats == [(alice.pk, False), (bob.pk, False)]  # Bob sits where the bot sat
    assert match.status == "waiting" and match.max_players == 2
    assert await queued_players(game) == []


@pytest.mark.usefixtures("either_backend")
async def test_a_match_vs_computer_someone_chose_is_never_offered_to_the_queue(
    alice, bob, settings
):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 10
    chosen = await sync_to_async(services.create_bot_match)(alice, "arena")
    sock = await lobby(bob)
    await sock.send(type="queue", game="arena")
    await sock.until("queued")
    await get_runtime().matchmaking.round(time.time())
    assert await queued_players("arena") == [bob.pk]  # still waiting for a person
    _, seats = await seated(chosen.pk)
    assert [is_bot for _, is_bot in seats] == [False, True, True]
    assert bob.pk not in [pid for pid, _ in seats]


@pytest.mark.usefixtures("either_backend")
async def test_a_bots_seat_is_not_taken_once_the_match_started(alice, bob, settings):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 10
    alone = await lobby(alice)
    await alone.send(type="queue", game="connect_four")
    await alone.until("queued")
    hub = get_runtime().matchmaking
    await hub.round(time.time() + 11)
    with_bot = (await alone.until("matched"))["match"]["id"]
    await sync_to_async(services.start_match)(with_bot)
    later = await lobby(bob)
    await later.send(type="queue", game="connect_four")
    await later.until("queued")
    await hub.round(time.time())
    assert await queued_players() == [bob.pk]
    _, seats = await seated(with_bot)
    assert seats[1][1]


@pytest.mark.usefixtures("either_backend")
async def test_the_quick_join_takes_a_bots_seat_in_a_waiting_queue_match(alice, bob, settings):
    settings.MATCHMAKING_BOT_FILL_SECONDS = 10
    alone = await lobby(alice)
    await alone.send(type="queue", game="arena")
    await alone.until("queued")
    await get_runtime().matchmaking.round(time.time() + 11)
    with_bot = (await alone.until("matched"))["match"]["id"]
    joined = await sync_to_async(services.quick_join)(bob, "arena")
    assert str(joined.pk) == with_bot
    _, seats = await seated(with_bot)
    assert seats == [(alice.pk, False), (bob.pk, False)]
