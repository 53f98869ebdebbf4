"""What the matchmaking queue asks of the database: may a player queue, which public matches
wait for players, and seat a group at once (in a new match, or in an open one); and the
queue's fallback for a client without a lobby socket, the quick join."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Avg, Count, F, Q

from games.engine.base import Game
from games.models import Match, MatchStatus, Participant, Player
from games.services import announce
from games.services.cooldowns import check_cooldown
from games.services.errors import InvalidRequest, MatchFull, MatchNotJoinable
from games.services.lifecycle import _locked_match, _rules
from games.services.players import check_can_play
from games.services.seating import (
    _PLAYING_ELSEWHERE,
    _give_up_seat,
    _matches_in_progress,
    check_not_playing,
    create_match,
    join_match,
)


def check_can_queue(player: Player, game: str) -> None:
    """Raise PlayerBanned, QueueCooldown, InvalidRequest or AlreadyPlaying if the player may
    not queue now (the lobby queue and the quick join)."""
    check_can_play(player)
    check_cooldown(player)
    _rules(game)
    check_not_playing(player)


def quick_join(player: Player, game: str) -> Match:
    """Put the player into a public match of `game` at once: "Play now" without a lobby socket.

    Their own waiting match if they have one, else the oldest open match with a
    free seat, else a bot's seat in a queue's match with bots not started yet, else
    a new one. The site's "Play now" is the matchmaking queue on
    the lobby socket (`games.matchmaking`); this is its fallback (`POST /api/play/`)
    for a client whose socket cannot open, with the queue's rule of who may play
    (`check_can_queue`: not a player seated in a match in progress). The queue
    fills the free seats of open public matches with the players it has not
    grouped (`seat_queued_players`), so a player who quick-joined meets a queued
    one, whoever came first.
    """
    check_can_queue(player, game)
    mine = Match.objects.open_lobby(game).filter(participants__player=player).first()
    if mine is not None:
        return mine
    for candidate in Match.objects.open_lobby(game).exclude(participants__player=player)[:20]:
        try:
            join_match(player, candidate.pk)
            return candidate
        except (MatchFull, MatchNotJoinable):
            continue  # taken by someone else meanwhile: try the next one
    # Then a bot's seat in one of the queue's matches with bots not started yet, as the
    # queue offers them (services.bots says the rule).
    from games.services import bots  # it builds on this module

    for offered in bots.open_bot_matches(game, 5):
        if bots.take_bot_seats(offered.match_id, [player.pk]).match is not None:
            return Match.objects.get(pk=offered.match_id)
    return create_match(player, game)


@dataclass(frozen=True)
class QueuedMatch:
    """What `create_queued_match` did: the new match, or who could not be seated and why."""

    match: Match | None
    refused: dict[int, str]


def create_queued_match(game: str, player_ids: Sequence[int]) -> QueuedMatch:
    """Create a public match of `game` for a group the matchmaking queue chose, all seated.

    One transaction with the players locked. A player plays one match at a time,
    so seats the players hold in matches that have not started are given up
    first. Seats follow the order of `player_ids`; the match has exactly that
    many seats. If any player may not play now (banned, deactivated or deleted
    since they queued, or seated in a match in progress), nothing is written
    and `refused` says who and why, so the caller can put the others back in
    the queue. Every player hears the match's id after commit, on their lobby
    sockets.
    """
    rules = _rules(game)
    ids = list(player_ids)
    if len(set(ids)) != len(ids) or not rules.min_players <= len(ids) <= rules.max_players:
        raise InvalidRequest(
            f"A group for {rules.title} is {rules.min_players} to "
            f"{rules.max_players} different players, not {ids}."
        )
    return seat_queued_group(game, rules, ids)


def seat_queued_group(
    game: str, rules: Game[Any], ids: list[int], bots: Sequence[Player] = ()
) -> QueuedMatch:
    """A new public match with the queued players `ids` (then `bots`) seated in that order.

    The queue's one way to open a match, with or without bots: one transaction
    with the players locked; if any may not play now, nothing is written and
    `refused` says who and why; their seats in matches not started yet are
    given up; they hear the match's id after commit.
    """
    with transaction.atomic():
        players, refused = _lock_and_check(ids)
        if refused:
            return QueuedMatch(None, refused)
        for pid in ids:
            _give_up_waiting_seats(players[pid])
        seated = [players[pid] for pid in ids] + list(bots)
        match = Match.objects.create(
            game=game,
            created_by=players[ids[0]],
            max_players=len(seated),
            settings=rules.settings({}),
            seed=secrets.randbits(62),
        )
        Participant.objects.bulk_create(
            Participant(match=match, player=p, seat=seat) for seat, p in enumerate(seated)
        )
        announce.lobby_change_on_commit()
        announce.matched_on_commit(match.pk, game, ids)
        return QueuedMatch(match, {})


@dataclass(frozen=True)
class OpenMatch:
    """A public match waiting for players, as the queue sees it: a place for queued players."""

    match_id: str
    free_seats: int
    seated: frozenset[int]  # player ids
    rating: float  # the mean openskill mu of the players seated
    waiting_since: float  # wall-clock seconds: when it was opened


def open_public_matches(game: str, limit: int = 20) -> list[OpenMatch]:
    """The oldest public matches of `game` that wait for players and have a free seat.

    `quick_join` (the JSON API's "Play now") and `POST /api/matches/` open them; the
    queue seats its players in them (`seat_queued_players`), so that a player who
    pressed "Play now" without a lobby socket meets those who queued on one. Two
    queries, none when no match is open.
    """
    matches = list(
        Match.objects.open_lobby(game)
        .annotate(seated_count=Count("participants"), rating=Avg("participants__player__rating_mu"))
        .filter(seated_count__gt=0, seated_count__lt=F("max_players"))
        .values_list("pk", "max_players", "seated_count", "rating", "created_at")[:limit]
    )
    if not matches:
        return []
    seated: dict[Any, set[int]] = {pk: set() for pk, *_ in matches}
    for match_id, player_id in Participant.objects.filter(match_id__in=seated).values_list(
        "match_id", "player_id"
    ):
        seated[match_id].add(player_id)
    return [
        OpenMatch(str(pk), seats - count, frozenset(seated[pk]), rating, created.timestamp())
        for pk, seats, count, rating, created in matches
    ]


def seat_queued_players(match_id: Any, player_ids: Sequence[int]) -> QueuedMatch:
    """Seat players the matchmaking queue took in an open public match, in its lowest free seats.

    The same transaction and the same refusals as `create_queued_match`, with the
    match locked along with the players' waiting matches. If the match can no
    longer take them all (it started, filled, went private or is gone, or one of
    them sits in it already), nothing is written and the answer has no match and
    nobody refused: the caller puts them back in the queue. Every player hears the
    match's id after commit, on their lobby sockets, as from a match the queue made.
    """
    return seat_in_match(match_id, player_ids, _free_seats, _seat_in_free_seats)


Place = TypeVar("Place")  # where a match has room for a player: a seat number, a bot's seat


def seat_in_match(
    match_id: Any,
    player_ids: Sequence[int],
    places: Callable[[Match, Sequence[int]], list[Place]],
    seat: Callable[[Match, list[Place], list[Player]], None],
) -> QueuedMatch:
    """Seat queued players in an existing match: `places` lists the places it has for
    them (none if it can no longer take them), `seat` puts the players there, in order.

    One transaction, the players and the match locked: if the match has fewer places
    than players, nothing is written and nobody is refused; if one of them may not
    play now, nothing is written and `refused` says who and why. Their seats in
    matches not started yet are given up; they hear the match's id after commit.
    """
    ids = list(player_ids)
    if not ids or len(set(ids)) != len(ids):
        raise InvalidRequest(f"Seat different players, not {ids}.")
    with transaction.atomic():
        players, refused = _lock_and_check(ids, also=match_id)
        match = Match.objects.filter(pk=match_id).first()
        found = places(match, ids) if match is not None else []
        if match is None or len(found) < len(ids):
            return QueuedMatch(None, {})
        if refused:
            return QueuedMatch(None, refused)
        for pid in ids:
            _give_up_waiting_seats(players[pid])
        seat(match, found[: len(ids)], [players[pid] for pid in ids])
        announce.lobby_change_on_commit()
        announce.matched_on_commit(match.pk, match.game, ids)
        return QueuedMatch(match, {})


def _seat_in_free_seats(match: Match, free: list[int], players: list[Player]) -> None:
    Participant.objects.bulk_create(
        Participant(match=match, player=player, seat=seat)
        for seat, player in zip(free, players, strict=True)
    )


def _free_seats(match: Match, player_ids: Collection[int]) -> list[int]:
    """The free seats of an open public match, lowest first; none if any of them sits in it."""
    if match.status != MatchStatus.WAITING or match.is_private:
        return []
    seated = dict(match.participants.values_list("player_id", "seat"))
    if seated.keys() & set(player_ids):
        return []
    return [seat for seat in range(match.max_players) if seat not in seated.values()]


def _lock_and_check(
    ids: Sequence[int], also: Any = None
) -> tuple[dict[int, Player], dict[int, str]]:
    """Lock the players and their waiting matches (and match `also`); who may not play, and why."""
    # Locked in id order, so two groups sharing a player cannot deadlock.
    locked = Player.objects.select_for_update(of=("self",)).select_related("user")
    players = {p.pk: p for p in locked.filter(pk__in=ids).order_by("pk")}
    # Their waiting matches are locked before the check below, so one that starts
    # meanwhile is seen there as in progress instead of kept alongside the new one.
    _lock_waiting_matches(ids, also)
    playing = _matches_in_progress(ids)
    refused = {
        pid: reason for pid in ids if (reason := _why_unable(players.get(pid), pid in playing))
    }
    return players, refused


def _why_unable(player: Player | None, playing: bool) -> str:
    """Why this player cannot be seated now, or "" if they can."""
    if player is None:
        return "This player no longer exists."
    if player.is_banned:
        return f"You are banned: {player.ban_reason}"
    if not player.user.is_active:
        return "This account is deactivated."
    if playing:
        return _PLAYING_ELSEWHERE
    return ""


def _lock_waiting_matches(player_ids: Collection[int], also: Any = None) -> None:
    """Lock the waiting matches these players sit in, and match `also` if it is waiting,
    in id order (no deadlock between two).

    A match that starts while this waits for its lock is no longer waiting when it
    gets it: PostgreSQL checks the condition again on the row it locks.
    """
    seats = Participant.objects.filter(player_id__in=player_ids).values("match_id")
    wanted = Q(pk__in=seats) | Q(pk=also) if also is not None else Q(pk__in=seats)
    waiting = Match.objects.filter(wanted, status=MatchStatus.WAITING)
    list(waiting.select_for_update().order_by("pk").values_list("pk", flat=True))


def _give_up_waiting_seats(player: Player) -> None:
    waiting = Participant.objects.filter(player=player, match__status=MatchStatus.WAITING)
    for match_id in list(waiting.values_list("match_id", flat=True)):
        match = _locked_match(match_id)
        leaving = match.participants.filter(player=player).first()
        if match.status == MatchStatus.WAITING and leaving is not None:
            _give_up_seat(match, leaving)
