"""A finished match: check and store each seat's result, the replay and the new ratings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from games.models import Match, MatchStatus, Participant, Player, Replay, SeatResult
from games.services import ratings
from games.services.errors import InvalidResult
from games.services.lifecycle import _change_status, _check_fence, _locked_match


@dataclass(frozen=True)
class SeatRecord:
    """How one seat ended: outcome, score and placement (1 is best, ties share)."""

    seat: int
    outcome: str
    score: int
    rank: int


@dataclass(frozen=True)
class ReplayData:
    """What a runner recorded: the input log as [tick, seat, input-or-None] and the end."""

    seats: int
    final_tick: int
    log: list[list[Any]]
    final_state: dict[str, Any]


def finish_match(
    match_id: Any,
    results: Sequence[SeatRecord],
    summary: str,
    *,
    replay: ReplayData | None = None,
    fence: int | None = None,
) -> Match:
    """Record the end of an active match in one transaction.

    Writes the status, every participant's score, outcome and rating change,
    the players' records and ratings, the match's result summary and its
    replay; if any step fails, none of it is stored.
    """
    packed_log = Replay.pack(replay.log) if replay else b""  # compress outside the lock
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        participants = list(match.participants.order_by("seat"))
        _check_results(participants, results)
        _change_status(match, MatchStatus.FINISHED)
        by_seat = {r.seat: r for r in results}
        # Lock players in id order so two matches finishing together cannot deadlock.
        player_ids = sorted(p.player_id for p in participants)
        players = {p.pk: p for p in Player.objects.select_for_update().filter(pk__in=player_ids)}
        bots = any(player.is_bot for player in players.values())
        new_ratings = _new_ratings(match, participants, players, by_seat, bots)
        for participant in participants:
            player = players[participant.player_id]
            result = by_seat[participant.seat]
            _record_participant(participant, result, match, player, new_ratings.get(player.pk))
            _record_player(player, result, new_ratings.get(player.pk))
        match.result = {
            "summary": summary,
            "rated": match_is_rated(match, len(participants), with_bots=bots),
            "seats": [
                {"seat": r.seat, "outcome": r.outcome, "score": r.score, "rank": r.rank}
                for r in sorted(results, key=lambda r: r.seat)
            ],
        }
        match.save(update_fields=["result"])
        if replay is not None:
            Replay.objects.create(
                match=match,
                game=match.game,
                seed=match.seed,
                settings=match.settings,
                seats=replay.seats,
                final_tick=replay.final_tick,
                log=packed_log,
                final_state=replay.final_state,
            )
        return match


def match_is_rated(match: Match, seated: int, *, with_bots: bool = False) -> bool:
    """Public matches of two or more players change ratings; private ones are friendly.

    A match with a bot seated is unrated too: a bot's strength is a setting, not a
    skill to measure, and a rating won from bots would say nothing about people.
    """
    return not match.is_private and seated >= 2 and not with_bots


def _check_results(participants: list[Participant], results: Sequence[SeatRecord]) -> None:
    seats = sorted(p.seat for p in participants)
    if sorted(r.seat for r in results) != seats:
        raise InvalidResult(f"A result must name exactly the seats {seats}.")
    for r in results:
        if r.outcome not in SeatResult.values:
            raise InvalidResult(f"Unknown outcome {r.outcome!r} for seat {r.seat}.")


def _new_ratings(
    match: Match,
    participants: list[Participant],
    players: dict[int, Player],
    by_seat: dict[int, SeatRecord],
    with_bots: bool,
) -> dict[int, ratings.Rating]:
    """New rating per player id, or {} when the match is unrated."""
    if not match_is_rated(match, len(participants), with_bots=with_bots):
        return {}
    before = [
        ratings.Rating(players[p.player_id].rating_mu, players[p.player_id].rating_sigma)
        for p in participants
    ]
    after = ratings.rate(before, [by_seat[p.seat].rank for p in participants])
    new = {p.player_id: rating for p, rating in zip(participants, after, strict=True)}
    if any(player.is_banned for player in players.values()):
        # Nobody loses rating to a player banned since (a cheat, say); gains stand.
        new = {
            player_id: rating
            for player_id, rating in new.items()
            if players[player_id].is_banned or rating.ordinal >= players[player_id].rating_ordinal
        }
    return new


def _record_participant(
    participant: Participant,
    result: SeatRecord,
    match: Match,
    player: Player,
    new: ratings.Rating | None,
) -> None:
    participant.score = result.score
    participant.outcome = result.outcome
    participant.rank = result.rank
    participant.left_at = participant.left_at or match.finished_at
    fields = ["score", "outcome", "rank", "left_at"]
    if new is not None:
        participant.rating_before = player.rating_ordinal
        participant.rating_after = new.ordinal
        fields += ["rating_before", "rating_after"]
    participant.save(update_fields=fields)


_RECORD_FIELD = {
    SeatResult.WIN: "wins",
    SeatResult.LOSS: "losses",
    SeatResult.ABANDONED: "losses",
    SeatResult.DRAW: "draws",
}


def _record_player(player: Player, result: SeatRecord, new: ratings.Rating | None) -> None:
    counter = _RECORD_FIELD[SeatResult(result.outcome)]
    updates: dict[str, Any] = {"matches_played": F("matches_played") + 1, counter: F(counter) + 1}
    if new is not None:
        updates.update(rating_mu=new.mu, rating_sigma=new.sigma, rating_ordinal=new.ordinal)
    Player.objects.filter(pk=player.pk).update(**updates)
