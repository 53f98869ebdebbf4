"""Seats in waiting matches: create, join (by id or by private code), leave."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Any

from django.db import IntegrityError, transaction

from games.engine.base import EngineError
from games.models import Match, MatchStatus, Participant, Player
from games.services import announce
from games.services.errors import (
    AlreadyPlaying,
    AlreadySeated,
    InvalidRequest,
    MatchFull,
    MatchNotFound,
    MatchNotJoinable,
    ServiceError,
)
from games.services.lifecycle import _change_status, _locked_match, _rules
from games.services.players import check_can_play

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread

_PLAYING_ELSEWHERE = "You are playing a match already: finish it or rejoin it first."


def check_not_playing(player: Player) -> None:
    """Raise AlreadyPlaying (naming the match) if the player is seated in a match in progress.

    The one rule of who may take a new seat, wherever they ask: creating or joining
    a match, the quick join and the matchmaking queue. A player plays one match at
    a time; a seat they left for good (abandoned) no longer counts.
    """
    playing = _matches_in_progress([player.pk])
    if player.pk in playing:
        match_id, match_game = playing[player.pk]
        raise AlreadyPlaying(_PLAYING_ELSEWHERE, match_id, match_game)


def _matches_in_progress(player_ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """(match id, game) of the active match each of these players is still seated in.

    One query. Seats in waiting matches do not count: queueing gives them up.
    """
    seats = Participant.objects.filter(
        player_id__in=player_ids, left_at__isnull=True, match__status=MatchStatus.ACTIVE
    ).values_list("player_id", "match_id", "match__game")
    return {player_id: (str(match_id), game) for player_id, match_id, game in seats}


def create_match(
    creator: Player,
    game: str,
    *,
    is_private: bool = False,
    max_players: int | None = None,
    settings: dict[str, Any] | None = None,
) -> Match:
    """Create a waiting match and seat its creator in seat 0.

    Raises PlayerBanned, AlreadyPlaying (the creator is in a match in progress) or
    InvalidRequest (no such game, a size or settings it does not take).
    """
    check_can_play(creator)
    rules = _rules(game)
    check_not_playing(creator)
    seats = rules.max_players if max_players is None else max_players
    if not rules.min_players <= seats <= rules.max_players:
        raise InvalidRequest(
            f"{rules.title} takes {rules.min_players} to {rules.max_players} players."
        )
    try:
        full_settings = rules.settings(settings or {})
    except EngineError as exc:
        raise InvalidRequest(exc.reason) from exc
    for _ in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6)) if is_private else None
        try:
            with transaction.atomic():
                match = Match.objects.create(
                    game=game,
                    created_by=creator,
                    max_players=seats,
                    is_private=is_private,
                    join_code=code,
                    settings=full_settings,
                    seed=secrets.randbits(62),
                )
                Participant.objects.create(match=match, player=creator, seat=0)
                announce.lobby_change_on_commit()
                return match
        except IntegrityError:
            if not is_private:
                raise
            # A join code collided with an existing one: draw another.
    raise ServiceError("Could not allocate a join code; try again.")


def join_match(player: Player, match_id: Any) -> Participant:
    """Seat `player` in the lowest free seat of a waiting match (not while playing another)."""
    check_can_play(player)
    check_not_playing(player)
    with transaction.atomic():
        match = _locked_match(match_id)
        return _seat(player, match)


def join_private_match(player: Player, code: str) -> Participant:
    """Seat `player` in the private match with this join code (not while playing another)."""
    check_can_play(player)
    check_not_playing(player)
    with transaction.atomic():
        match = Match.objects.select_for_update().filter(join_code=code.strip().upper()).first()
        if match is None:
            raise MatchNotFound("No match has that join code. Check the code and try again.")
        return _seat(player, match)


def _seat(player: Player, match: Match) -> Participant:
    if match.status != MatchStatus.WAITING:
        raise MatchNotJoinable("This match has already started or ended.")
    taken = set(match.participants.values_list("seat", flat=True))
    if match.participants.filter(player=player).exists():
        raise AlreadySeated("You already have a seat in this match.")
    free = [seat for seat in range(match.max_players) if seat not in taken]
    if not free:
        raise MatchFull("This match is full.")
    announce.lobby_change_on_commit()
    return Participant.objects.create(match=match, player=player, seat=free[0])


def leave_waiting_match(player: Player, match_id: Any) -> None:
    """Give up a seat before the match starts; an empty waiting match is aborted."""
    with transaction.atomic():
        match = _locked_match(match_id)
        if match.status != MatchStatus.WAITING:
            raise MatchNotJoinable("Only a match that has not started can be left this way.")
        leaving = match.participants.filter(player=player).first()
        if leaving is None:
            raise MatchNotFound("You do not have a seat in this match.")
        _give_up_seat(match, leaving)


def _give_up_seat(match: Match, leaving: Participant) -> None:
    """Remove a seat from a waiting match locked by the caller; abort the match if no person
    is left in it (bots alone do not play)."""
    leaving.delete()
    announce.lobby_change_on_commit()
    # Keep seats numbered 0..n-1: the engine numbers its players that way.
    # One row at a time, lowest first, so (match, seat) stays unique throughout.
    for later in match.participants.filter(seat__gt=leaving.seat).order_by("seat"):
        later.seat -= 1
        later.save(update_fields=["seat"])
    if not match.participants.filter(player__is_bot=False).exists():  # nobody, or bots only
        _change_status(match, MatchStatus.ABORTED)
        match.result = {"summary": "Aborted: every player left before the start."}
        match.save(update_fields=["result"])
