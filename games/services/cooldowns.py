"""Queue cooldowns for players who leave rated matches early.

A seat that ends a rated match as `abandoned` (the runner's outcome for a player
who left, or whose grace ran out, or who was banned mid-match) is one
abandonment. Nothing is stored beyond the participants' rows: the cooldown is
read from the abandonments of the last `WINDOW`, counted since an operator last
cleared it (`Player.cooldown_cleared_at`), and runs from the latest of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from games.models import AuditAction, Participant, Player, SeatResult
from games.services import audit
from games.services.audit import Actor
from games.services.errors import QueueCooldown
from games.services.players import format_ban_end

WINDOW = timedelta(hours=24)
# The cooldown after the n-th abandonment within WINDOW (n = 1, 2, ...); past the
# end of the list, its last step. The first is forgiven: a dropped connection
# happens to everyone.
LADDER = (
    timedelta(0),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)


@dataclass(frozen=True)
class Cooldown:
    """A cooldown in force: how many abandonments led to it, and when it ends."""

    abandonments: int
    until: datetime

    def seconds_left(self) -> int:
        return max(0, int((self.until - timezone.now()).total_seconds() + 0.999))

    def in_words(self) -> str:
        """'You left 2 rated matches early in the last 24 hours: you may queue again in
        4 minutes (at 2026-12-01 20:31 UTC).'"""
        return (
            f"You left {self.abandonments} rated matches early in the last 24 hours: "
            f"you may queue again in {time_left_in_words(self.seconds_left())} "
            f"(at {format_ban_end(self.until)})."
        )


def cooldown_step(abandonments: int) -> timedelta:
    """The cooldown that `abandonments` recent abandonments give."""
    if abandonments <= 0:
        return timedelta(0)
    return LADDER[min(abandonments, len(LADDER)) - 1]


def current_cooldown(player: Player) -> Cooldown | None:
    """The player's cooldown if one is in force now, else None."""
    row = _abandonments().filter(player=player).aggregate(count=Count("id"), last=Max("left_at"))
    return _cooldown(row["count"], row["last"])


def check_cooldown(player: Player) -> None:
    """Raise QueueCooldown, with the time left in words, while the player's cooldown lasts."""
    cooldown = current_cooldown(player)
    if cooldown is not None:
        raise QueueCooldown(cooldown.in_words(), cooldown.seconds_left())


def players_in_cooldown() -> dict[int, Cooldown]:
    """Every player with a cooldown in force, by player id (for the admin)."""
    rows = _abandonments().values("player_id").annotate(count=Count("id"), last=Max("left_at"))
    found = {row["player_id"]: _cooldown(row["count"], row["last"]) for row in rows}
    return {pk: cooldown for pk, cooldown in found.items() if cooldown is not None}


def clear_cooldown(player: Player, *, by: Actor = None, reason: str = "") -> bool:
    """Forgive the player's recent abandonments, so they may queue at once.

    Writes an audit entry; False (and no entry) if no cooldown was in force.
    """
    with transaction.atomic():
        locked = Player.objects.select_for_update().get(pk=player.pk)
        cooldown = current_cooldown(locked)
        if cooldown is None:
            return False
        now = timezone.now()
        Player.objects.filter(pk=player.pk).update(cooldown_cleared_at=now)
        player.cooldown_cleared_at = now
        audit.record(
            by,
            AuditAction.CLEAR_COOLDOWN,
            locked,
            reason,
            abandonments=cooldown.abandonments,
            until=cooldown.until.isoformat(),
        )
    return True


def time_left_in_words(seconds: int) -> str:
    """'45 seconds', '1 minute', '4 minutes', '1 hour 5 minutes'."""
    if seconds < 60:
        return _plural(max(seconds, 1), "second")
    minutes = (seconds + 59) // 60
    hours, minutes = divmod(minutes, 60)
    parts = [_plural(hours, "hour")] if hours else []
    if minutes:
        parts.append(_plural(minutes, "minute"))
    return " ".join(parts)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _abandonments() -> QuerySet[Participant]:
    """Seats abandoned in rated matches within WINDOW, since the player's cooldown was cleared."""
    since = timezone.now() - WINDOW
    cleared = Q(player__cooldown_cleared_at__isnull=True) | Q(
        left_at__gt=F("player__cooldown_cleared_at")
    )
    return Participant.objects.filter(
        cleared, outcome=SeatResult.ABANDONED, left_at__gt=since, match__result__rated=True
    )


def _cooldown(count: int, last: datetime | None) -> Cooldown | None:
    if not count or last is None:
        return None
    until = last + cooldown_step(count)
    if until <= timezone.now():
        return None
    return Cooldown(count, until)
