"""The audit log: one entry per operator action, written inside that action's transaction.

Callers pass the acting user (None for a script, written as "system"); the
entry keeps their username as text, so it outlives the account. Entries are
never changed or deleted (`games.models.AuditEntry` refuses both). An action on
no one player or match (a broadcast to everyone) has the target "site".
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction

from games.models import AuditAction, AuditEntry, Match, Player

SYSTEM = "system"
SITE = "site"  # the target of an action on everyone

Actor = AbstractBaseUser | AnonymousUser | None


def record(
    by: Actor,
    action: AuditAction,
    target: Player | Match | None,
    reason: str = "",
    **details: Any,
) -> AuditEntry:
    """Append one entry. Must run inside the transaction of the action it records,
    so the action and its entry are committed, or rolled back, together."""
    assert transaction.get_connection().in_atomic_block, "record() inside the action's atomic()"
    actor = by if isinstance(by, User) else None  # None, or anonymous: a script
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else SYSTEM,
        action=action,
        target_type=_kind(target),
        target_id="" if target is None else str(target.pk),
        target_name=_name(target)[:100],
        reason=reason[:200],
        details=details,
    )


def _kind(target: Player | Match | None) -> str:
    if target is None:
        return SITE
    return "player" if isinstance(target, Player) else "match"


def _name(target: Player | Match | None) -> str:
    if target is None:
        return "every player"
    if isinstance(target, Player):
        return target.display_name
    return f"{target.game} {str(target.pk)[:8]}"
