"""What a match runner reads and writes in the database, as async calls over services.

Runners reach the database only at lifecycle points (load, start, finish,
abort), never per tick; each call is one service transaction on Django's sync
thread. Tests can hand a runner another store with the same methods.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, cast

from channels.db import database_sync_to_async

from games import services
from games.models import Match, Player


@dataclass(frozen=True)
class SeatRow:
    seat: int
    player_id: int
    name: str


@dataclass(frozen=True)
class MatchInfo:
    id: str
    game: str
    status: str
    settings: dict[str, Any]
    seed: int
    max_players: int
    seats: list[SeatRow]
    runner_fence: int = 0  # the newest runner token the database has recorded


def _seats(match: Match) -> list[SeatRow]:
    return [
        SeatRow(p.seat, p.player_id, p.player.display_name)
        for p in match.participants.select_related("player").order_by("seat")
    ]


class DatabaseStore:
    """Each method runs one service call on Django's sync thread."""

    async def load(self, match_id: str) -> MatchInfo | None:
        return cast(MatchInfo | None, await database_sync_to_async(_load)(match_id))

    async def start(self, match_id: str, present: list[int], fence: int | None) -> list[SeatRow]:
        """Start the match if every seated player is present; raises NotReady otherwise."""
        rows = await database_sync_to_async(_start)(match_id, present, fence)
        return cast(list[SeatRow], rows)

    async def finish(
        self,
        match_id: str,
        results: list[services.SeatResult],
        summary: str,
        replay: services.ReplayData,
        fence: int | None,
    ) -> dict[str, Any]:
        """Store the result; return it with every seat's rating change, for the result frame."""
        payload = await database_sync_to_async(_finish)(match_id, results, summary, replay, fence)
        return cast(dict[str, Any], payload)

    async def abort(self, match_id: str, reason: str, fence: int | None) -> None:
        await database_sync_to_async(services.abort_match)(match_id, reason, fence=fence)

    async def take_fence(self, match_id: str, token: int, since: int | None = None) -> None:
        """Record a runner's new token; StaleRunner if a newer runner was recorded."""
        await database_sync_to_async(services.take_runner_fence)(match_id, token, since=since)

    async def leave(self, match_id: str, player_id: int) -> None:
        """Give up a waiting seat whose player went away (no-op if already gone)."""
        await database_sync_to_async(_leave)(match_id, player_id)

    async def result(self, match_id: str) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, await database_sync_to_async(_result)(match_id))


def _load(match_id: str) -> MatchInfo | None:
    match = Match.objects.filter(pk=match_id).first()
    if match is None:
        return None
    return MatchInfo(
        str(match.pk),
        match.game,
        match.status,
        match.settings,
        match.seed,
        match.max_players,
        _seats(match),
        match.runner_fence,
    )


def _start(match_id: str, present: list[int], fence: int | None) -> list[SeatRow]:
    return _seats(services.start_match(match_id, present=present, fence=fence))


def _finish(
    match_id: str,
    results: list[services.SeatResult],
    summary: str,
    replay: services.ReplayData,
    fence: int | None,
) -> dict[str, Any]:
    match = services.finish_match(match_id, results, summary, replay=replay, fence=fence)
    return result_payload(match)


def _leave(match_id: str, player_id: int) -> None:
    player = Player.objects.filter(pk=player_id).first()
    if player is None:
        return
    with contextlib.suppress(services.MatchNotFound, services.MatchNotJoinable):
        services.leave_waiting_match(player, match_id)


def _result(match_id: str) -> dict[str, Any] | None:
    match = Match.objects.filter(pk=match_id).first()
    return result_payload(match) if match and match.result else None


def result_payload(match: Match) -> dict[str, Any]:
    seats = [
        {
            "seat": p.seat,
            "player_id": p.player_id,
            "name": p.player.display_name,
            "outcome": p.outcome or None,
            "score": p.score,
            "rank": p.rank,
            "rating_before": p.rating_before,
            "rating_after": p.rating_after,
        }
        for p in match.participants.select_related("player").order_by("seat")
    ]
    result = match.result or {}
    return {
        "status": match.status,
        "summary": result.get("summary", ""),
        "rated": result.get("rated", False),
        "seats": seats,
    }
