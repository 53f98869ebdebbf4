"""The only functions that answer "may this user see or act on this match?".

Views, the admin and (later) consumers call these, so the rules live once.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

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
