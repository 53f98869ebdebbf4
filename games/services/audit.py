"""The audit log: one entry per operator action, written inside that action's transaction.

Callers pass the acting user (None for a script, written as "system"); the
entry keeps their username as text, so it outlives the account. Entries are
never changed or deleted (`games.models.AuditEntry` refuses both).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction

from games.models import AuditAction, AuditEntry, Match, Player

SYSTEM = "system"

Actor = AbstractBaseUser | AnonymousUser | None


def record(
    by: Actor,
    action: AuditAction,
    target: Player | Match,
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
        target_type="player" if isinstance(target, Player) else "match",
        target_id=str(target.pk),
        target_name=_name(target)[:100],
        reason=reason[:200],
        details=details,
    )


def _name(target: Player | Match) -> str:
    if isinstance(target, Player):
        return target.display_name
    return f"{target.game} {str(target.pk)[:8]}"
