"""The only functions that answer "may this user see or act on this match?".

Views, the admin and (later) consumers call these, so the rules live once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from games import services
from games.models import Match, Player
from games.services import MatchNotFound, ensure_player


def get_player(user: AbstractBaseUser | AnonymousUser) -> Player | None:
    """The signed-in user's player (created on first use), or None for anonymous users."""
    if not isinstance(user, User):
        return None  # anonymous
    return ensure_player(user)


def get_visible_match(user: AbstractBaseUser | AnonymousUser, match_id: Any) -> Match:
    """A match the user may look at, with its participants loaded.

    Public matches are visible to everyone. A private match is visible only to
    its participants and staff; to anyone else it does not exist, so its id
    leaks nothing.
    """
    try:
        match = Match.objects.with_participants().get(pk=uuid.UUID(str(match_id)))
    except (Match.DoesNotExist, ValueError) as exc:
        raise MatchNotFound("No such match.") from exc
    if match.is_private and not _may_see_private(user, match):
        raise MatchNotFound("No such match.")
    return match


def _may_see_private(user: AbstractBaseUser | AnonymousUser, match: Match) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_staff", False):
        return True
    return any(p.player.user_id == user.pk for p in match.participants.all())


@dataclass(frozen=True)
class MatchAccess:
    """Who is connecting to a match socket, and as what."""

    match_id: uuid.UUID
    game: str
    status: str
    player_id: int
    display_name: str
    seat: int | None  # None: spectator

    @property
    def role(self) -> str:
        return "spectator" if self.seat is None else "player"


class NotAllowed(Exception):
    """The user may not connect to this match; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def get_match_connection(user: AbstractBaseUser | AnonymousUser, match_id: Any) -> MatchAccess:
    """Decide how `user` may connect to a match: as its seated player or as a spectator.

    Raises MatchNotFound for an unknown match, PlayerBanned for a banned player,
    and NotAllowed when a private match is watched by someone without a seat, or
    when an operator removed the player from this match while it was live.
    """
    player = get_player(user)
    if player is None:
        raise NotAllowed("Log in first.")
    services.check_can_play(player)
    try:
        match = Match.objects.get(pk=uuid.UUID(str(match_id)))
    except (Match.DoesNotExist, ValueError) as exc:
        raise services.MatchNotFound("No such match.") from exc
    seat, left_at = match.participants.filter(player=player).values_list(
        "seat", "left_at"
    ).first() or (None, None)
    # A seat is left before the end only by a kick (services.kick_player).
    if left_at is not None and match.status in ("waiting", "active"):
        raise NotAllowed("An operator removed you from this match.")
    if seat is None and match.is_private and not getattr(user, "is_staff", False):
        raise NotAllowed("Only the players of a private match can watch it.")
    return MatchAccess(match.id, match.game, match.status, player.pk, player.display_name, seat)
