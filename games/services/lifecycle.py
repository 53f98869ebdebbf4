"""A match's status: the legal transitions, start, abort, and the runner's fencing token."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.utils import timezone

from games.engine import get_game
from games.engine.base import EngineError
from games.models import Match, MatchStatus
from games.services import announce
from games.services.errors import (
    IllegalTransition,
    InvalidRequest,
    MatchNotFound,
    NotReady,
    StaleRunner,
)


def _rules(game: str) -> Any:
    try:
        return get_game(game)
    except EngineError as exc:
        raise InvalidRequest(exc.reason) from exc


def _locked_match(match_id: Any) -> Match:
    try:
        return Match.objects.select_for_update().get(pk=match_id)
    except (Match.DoesNotExist, ValueError) as exc:
        raise MatchNotFound("No such match.") from exc


LEGAL_TRANSITIONS: dict[str, frozenset[str]] = {
    MatchStatus.WAITING: frozenset({MatchStatus.ACTIVE, MatchStatus.ABORTED}),
    MatchStatus.ACTIVE: frozenset({MatchStatus.FINISHED, MatchStatus.ABORTED}),
    MatchStatus.FINISHED: frozenset(),
    MatchStatus.ABORTED: frozenset(),
}


def _change_status(match: Match, new_status: str) -> None:
    """The one place a match's status changes; `match` must be locked by the caller."""
    if new_status not in LEGAL_TRANSITIONS[match.status]:
        raise IllegalTransition(f"A {match.status} match cannot become {new_status}.")
    now = timezone.now()
    match.status = new_status
    fields = ["status"]
    if new_status == MatchStatus.ACTIVE:
        match.started_at = now
        fields.append("started_at")
    elif new_status in (MatchStatus.FINISHED, MatchStatus.ABORTED):
        match.finished_at = now
        fields.append("finished_at")
    match.save(update_fields=fields)
    # Every transition changes the lobby: it lists waiting matches as open, active ones as live.
    announce.lobby_change_on_commit()


def start_match(
    match_id: Any, *, present: Collection[int] | None = None, fence: int | None = None
) -> Match:
    """Move a waiting match with enough players to active.

    With `present` (player ids connected and ready), every seated player must
    be among them, or NotReady is raised and nothing changes.
    """
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        rules = _rules(match.game)
        seated = set(match.participants.values_list("player_id", flat=True))
        if match.status == MatchStatus.WAITING:
            if len(seated) < rules.min_players:
                raise IllegalTransition(
                    f"{rules.title} needs at least {rules.min_players} players to start."
                )
            if present is not None and not seated <= set(present):
                raise NotReady("Waiting for every seated player to connect and be ready.")
        _change_status(match, MatchStatus.ACTIVE)
        return match


def _check_fence(match: Match, fence: int | None) -> None:
    """Refuse writes from a runner older than the last one that wrote; remember newer ones."""
    if fence is None:
        return
    if fence < match.runner_fence:
        raise StaleRunner(f"Runner token {fence} is older than {match.runner_fence}.")
    if fence > match.runner_fence:
        match.runner_fence = fence
        match.save(update_fields=["runner_fence"])


def take_runner_fence(match_id: Any, token: int, *, since: int | None = None) -> None:
    """Record that a runner with fencing token `token` runs the match from now on.

    The database's fence is the authority on tokens, whatever Redis lost: a token
    not above the recorded one is refused, and so is a runner taking its lease
    again (`since`: its previous token) after another runner was recorded.
    Raises StaleRunner when refused.
    """
    with transaction.atomic():
        match = _locked_match(match_id)
        recorded = match.runner_fence
        if token <= recorded or (since is not None and recorded > since):
            raise StaleRunner(f"Runner token {token} is not above {recorded}.")
        match.runner_fence = token
        match.save(update_fields=["runner_fence"])


def abort_match(match_id: Any, reason: str, *, fence: int | None = None) -> Match:
    """Abort a waiting or active match; no ratings change."""
    with transaction.atomic():
        match = _locked_match(match_id)
        _check_fence(match, fence)
        _change_status(match, MatchStatus.ABORTED)
        match.result = {"summary": f"Aborted: {reason}"}
        match.save(update_fields=["result"])
        match.participants.filter(left_at__isnull=True).update(left_at=match.finished_at)
        announce.abort_on_commit(match.pk, match.result["summary"])
        return match
