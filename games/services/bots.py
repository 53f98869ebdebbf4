"""Computer players: their accounts, "Play vs computer", and the queue's matches with bots.

A bot is a Player flagged `is_bot`, one per game, level and number (a match
seats several bots of one level as different players), created on first use
with a user that cannot log in (inactive, no usable password, a username
Django's username validator refuses, so nobody can sign up as one). Its name
says it is a bot ("Connect Four bot · easy"): people's names may not hold a
"·". The runner plays a bot's seat itself (games.runtime.match.bots); here it
is seated by a Participant like anyone.

Matches with a bot are unrated (`results.match_is_rated`). Bots never queue,
and the checks for people (one match at a time, waiting seats given up, bans)
are not applied to them: a bot plays any number of matches at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from games.engine import bots as engine_bots
from games.engine.base import EngineError, Game
from games.models import Match, Participant, Player
from games.services.errors import InvalidRequest
from games.services.lifecycle import _rules
from games.services.players import check_can_play
from games.services.queueing import (
    QueuedMatch,
    _give_up_waiting_seats,
    _lock_and_check,
    seat_queued_group,
)
from games.services.seating import check_not_playing, create_match

DEFAULT_LEVEL: engine_bots.Level = "normal"
# "Play vs computer" seats this many bots in a game for more than two (the arena).
BOTS_IN_A_CROWD = 2


def check_bot_level(game: Game[Any], level: str) -> engine_bots.Level:
    """`level` if `game` has bots at that level; InvalidRequest otherwise."""
    try:
        checked = engine_bots.check_level(level)
        bot = game.bot(checked, 0, 0, game.settings({}))
    except EngineError as exc:
        raise InvalidRequest(exc.reason) from exc
    if bot is None:
        raise InvalidRequest(f"{game.title} has no computer players.")
    return checked


def bot_player(game: str, level: str, number: int = 1) -> Player:
    """The bot player for `game` at `level` (the `number`th of a match), created on first use."""
    username = f"bot:{game}:{level}:{number}"
    found = Player.objects.filter(user__username=username).first()
    if found is not None:
        return found
    title = _rules(game).title[:16]
    name = f"{title} bot · {level}" if number == 1 else f"{title} bot {number} · {level}"
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=username, is_active=False)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            return Player.objects.create(
                user=user,
                display_name=name[:32],
                is_bot=True,
                bot_level=level,
                last_seen=timezone.now(),
            )
    except IntegrityError:
        # Created meanwhile by another request: that one is the bot.
        return Player.objects.get(user__username=username)


def _bots(game: str, level: str, count: int) -> list[Player]:
    return [bot_player(game, level, number) for number in range(1, count + 1)]


def create_bot_match(player: Player, game: str, level: str = DEFAULT_LEVEL) -> Match:
    """Play vs computer: a private match of `game` with `player` in seat 0 and bots seated.

    One bot in a game for two, BOTS_IN_A_CROWD in a game for more. The match
    starts as soon as the player's page connects (bots are always ready). Like
    every way to a seat, not while the player is seated in a match in progress;
    seats they hold in matches that have not started are given up. Raises
    PlayerBanned, AlreadyPlaying or InvalidRequest (no such game, no bots, no
    such level).
    """
    check_can_play(player)
    rules = _rules(game)
    checked = check_bot_level(rules, level)
    check_not_playing(player)
    count = max(rules.min_players - 1, min(BOTS_IN_A_CROWD, rules.max_players - 1))
    bots = _bots(game, checked, count)
    with transaction.atomic():
        _lock_and_check([player.pk])
        check_not_playing(player)  # again, under the lock: a match may have started meanwhile
        _give_up_waiting_seats(player)
        match = create_match(player, game, is_private=True, max_players=1 + len(bots))
        Participant.objects.bulk_create(
            Participant(match=match, player=bot, seat=seat) for seat, bot in enumerate(bots, 1)
        )
        return match


def create_queued_bot_match(
    game: str, player_ids: Sequence[int], level: str = DEFAULT_LEVEL
) -> QueuedMatch:
    """A public match for players the queue found nobody for in time, with bots up to the
    game's minimum (at least one), all seated: `queueing.create_queued_match` with bots.

    The same locks, refusals and announcements: if one of the players may not
    play now, nothing is written and `refused` says who and why.
    """
    rules = _rules(game)
    checked = check_bot_level(rules, level)
    ids = list(player_ids)
    count = max(rules.min_players - len(ids), 1)
    if not ids or len(set(ids)) != len(ids) or len(ids) + count > rules.max_players:
        raise InvalidRequest(f"No room for bots beside players {ids} in {rules.title}.")
    return seat_queued_group(game, rules, ids, _bots(game, checked, count))
