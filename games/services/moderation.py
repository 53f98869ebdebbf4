"""Operator actions on matches, each with its audit entry in the same transaction.

(Bans and unbans are in `players`, next to the ban checks they feed.)
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from games.models import AuditAction, Match
from games.services import audit
from games.services.audit import Actor
from games.services.lifecycle import abort_match


def abort_match_by_operator(match_id: Any, reason: str, *, by: Actor) -> Match:
    """Abort a waiting or active match for an operator; its players read the reason.

    Raises MatchNotFound, or IllegalTransition for a match already over (then
    nothing is written, the audit entry neither).
    """
    reason = reason.strip()[:200]
    with transaction.atomic():
        match = abort_match(match_id, f"stopped by an operator ({reason})")
        audit.record(by, AuditAction.ABORT, match, reason)
    return match
