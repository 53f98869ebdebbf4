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

A person the queue finds later may take a bot's seat in the queue's match with
bots while it has not started (`open_bot_matches`, `take_bot_seats`). A match
vs computer is private: nobody is ever seated in it but its player and bots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Avg, Exists, OuterRef, Q
from django.utils import timezone

from games.engine import bots as engine_bots
from games.engine.base import EngineError, Game
from games.models import Match, MatchStatus, Participant, Player
from games.services.errors import InvalidRequest
from games.services.lifecycle import _rules
from games.services.players import check_can_play
from games.services.queueing import (
    OpenMatch,
    QueuedMatch,
    _give_up_waiting_seats,
    _lock_and_check,
    seat_in_match,
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


def open_bot_matches(game: str, limit: int = 20) -> list[OpenMatch]:
    """The queue's matches with bots of `game` that have not started, oldest first, as
    places for queued people: each bot's seat is free for one (`take_bot_seats`).

    Only public matches: the queue seats bots in public matches, "Play vs computer"
    in private ones, which strangers never join. The rating is the mean of the
    people seated (a bot's says nothing). Two queries, one when none waits.
    """
    bots_seated = Participant.objects.filter(match=OuterRef("pk"), player__is_bot=True)
    people_only = Q(participants__player__is_bot=False)
    matches = list(
        Match.objects.open_lobby(game)
        .filter(Exists(bots_seated))
        .annotate(rating=Avg("participants__player__rating_mu", filter=people_only))
        .values_list("pk", "rating", "created_at")[:limit]
    )
    if not matches:
        return []
    bots: dict[Any, int] = {pk: 0 for pk, *_ in matches}
    people: dict[Any, set[int]] = {pk: set() for pk, *_ in matches}
    rows = Participant.objects.filter(match_id__in=bots)
    for match_id, player_id, is_bot in rows.values_list("match_id", "player_id", "player__is_bot"):
        if is_bot:
            bots[match_id] += 1
        else:
            people[match_id].add(player_id)
    return [
        OpenMatch(str(pk), bots[pk], frozenset(people[pk]), rating or 0.0, created.timestamp())
        for pk, rating, created in matches
    ]


def take_bot_seats(match_id: Any, player_ids: Sequence[int]) -> QueuedMatch:
    """Seat queued people in a queue's match with bots that has not started, each in a
    bot's seat (the highest first): the bot leaves, the person plays from there.

    The locks and refusals of `queueing.seat_in_match`: if the match can no
    longer take them all (it started, or has fewer bots left, or one of them sits
    in it) nothing is written and nobody is refused, so the caller puts them back
    in the queue. They hear the match's id after commit, on their lobby sockets.
    The match stays unrated while a bot is left in it (results.match_is_rated).
    """
    return seat_in_match(match_id, player_ids, _bot_seats, _swap_bots)


def _swap_bots(match: Match, seats: list[Participant], players: list[Player]) -> None:
    """The bots leave these seats; the players take them, as if they had just joined."""
    now = timezone.now()
    for seat, player in zip(seats, players, strict=True):
        seat.player, seat.joined_at = player, now
        seat.save(update_fields=["player", "joined_at"])


def _bot_seats(match: Match, player_ids: Sequence[int]) -> list[Participant]:
    """The bots' seats of a public match that has not started, highest first; none if any
    of these players sits in it already."""
    if match.status != MatchStatus.WAITING or match.is_private:
        return []
    seats = list(match.participants.select_related("player").order_by("-seat"))
    if any(p.player_id in player_ids for p in seats):
        return []
    return [p for p in seats if p.player.is_bot]
