"""What a match runner reads and writes in the database, as async calls over services.

Runners reach the database only at lifecycle points (load, start, finish,
abort), never per tick; each call is one service transaction on Django's sync
thread. Tests can hand a runner another store with the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from channels.db import database_sync_to_async
from django import db

from games import services
from games.models import Match, MatchStatus, Player
from games.runtime import metrics
from games.runtime.match.ports import MatchInfo, SeatRow

logger = logging.getLogger(__name__)


def _seats(match: Match) -> list[SeatRow]:
    return [
        SeatRow(p.seat, p.player_id, p.player.display_name, p.player.bot_level or None)
        for p in match.participants.select_related("player").order_by("seat")
    ]


# While the database is unreachable, the runner's lifecycle writes are retried with
# this backoff (doubling up to the second figure) until they are stored: the match
# waits, its lease kept, and the write lands exactly once when the database is back.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0

T = TypeVar("T")


async def _until_stored(what: str, match_id: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call` until the database answers; each outage is logged once, in words."""
    delay, failures = RETRY_FIRST_SECONDS, 0
    while True:
        try:
            result = await call()
        except (db.OperationalError, db.InterfaceError) as exc:
            metrics.database_failed("runner")
            if not failures:
                logger.warning(
                    "match %s: the database is unreachable for its %s (%s); retrying",
                    match_id,
                    what,
                    exc,
                )
            failures += 1
            await asyncio.sleep(delay)  # a retry backoff, not a wait for an event
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            continue
        if failures:
            logger.warning("match %s: %s stored after %d failed attempts", match_id, what, failures)
        return result


class DatabaseStore:
    """Each method runs one service call on Django's sync thread.

    The runner's writes (start, finish, abort, leave) wait out a database
    outage (see _until_stored); `load` and `result` fail at once, for a caller
    that can answer "try again".
    """

    async def load(self, match_id: str) -> MatchInfo | None:
        return cast(MatchInfo | None, await database_sync_to_async(_load)(match_id))

    async def start(self, match_id: str, present: list[int], fence: int | None) -> list[SeatRow]:
        """Start the match if every seated player is present; raises NotReady otherwise."""
        rows = await _until_stored(
            "start", match_id, lambda: database_sync_to_async(_start)(match_id, present, fence)
        )
        return cast(list[SeatRow], rows)

    async def finish(
        self,
        match_id: str,
        results: list[services.SeatRecord],
        summary: str,
        replay: services.ReplayData,
        fence: int | None,
    ) -> dict[str, Any]:
        """Store the result; return it with every seat's rating change, for the result frame."""
        payload = await _until_stored(
            "result",
            match_id,
            lambda: database_sync_to_async(_finish)(match_id, results, summary, replay, fence),
        )
        return cast(dict[str, Any], payload)

    async def abort(self, match_id: str, reason: str, fence: int | None) -> None:
        await _until_stored(
            "abort", match_id, lambda: database_sync_to_async(_abort)(match_id, reason, fence)
        )

    async def take_fence(self, match_id: str, token: int, since: int | None = None) -> None:
        """Record a runner's new token; StaleRunner if a newer runner was recorded."""
        await database_sync_to_async(services.take_runner_fence)(match_id, token, since=since)

    async def leave(self, match_id: str, player_id: int) -> None:
        """Give up a waiting seat whose player went away (no-op if already gone)."""
        await _until_stored(
            "seat release", match_id, lambda: database_sync_to_async(_leave)(match_id, player_id)
        )

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
    try:
        return _seats(services.start_match(match_id, present=present, fence=fence))
    except services.IllegalTransition:
        return _seats(_stored_already(match_id, MatchStatus.ACTIVE))


def _stored_already(match_id: str, status: str) -> Match:
    """The match, if a retried write finds it written (its first commit's reply was lost).

    Only this runner writes the match (its fence says so), so a match already in
    `status` was put there by this very write; anything else is a real refusal.
    """
    match = Match.objects.filter(pk=match_id).first()
    if match is None or match.status != status:
        raise services.IllegalTransition(f"The match is not {status}.")
    return match


def _abort(match_id: str, reason: str, fence: int | None) -> None:
    try:
        services.abort_match(match_id, reason, fence=fence)
    except services.IllegalTransition:
        _stored_already(match_id, MatchStatus.ABORTED)


def _finish(
    match_id: str,
    results: list[services.SeatRecord],
    summary: str,
    replay: services.ReplayData,
    fence: int | None,
) -> dict[str, Any]:
    try:
        match = services.finish_match(match_id, results, summary, replay=replay, fence=fence)
    except services.IllegalTransition:
        match = _stored_already(match_id, MatchStatus.FINISHED)
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
            "bot": p.player.is_bot,
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
