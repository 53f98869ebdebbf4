"""The queue fills a lone player's match with bots after MATCHMAKING_BOT_FILL_SECONDS, on
Redis and in single-process mode; 0 turns it off."""

import time

import pytest

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
