"""Players, matches, participants, replays and the audit log: fields, constraints, indexes.

No rules live here. Every change of a match's status, result or ratings goes
through `games.services`, which checks it and writes it in one transaction.
"""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from games import protocol

# A fresh openskill (Plackett-Luce) rating: mu 25, sigma 25/3, ordinal mu - 3 sigma = 0.
DEFAULT_MU = 25.0
DEFAULT_SIGMA = 25.0 / 3.0


class PlayerQuerySet(models.QuerySet["Player"]):
    def leaderboard(self) -> PlayerQuerySet:
        """Rated, unbanned people, best first (never bots). Served by `player_leaderboard_idx`."""
        return self.filter(matches_played__gt=0, is_banned=False, is_bot=False).order_by(
            "-rating_ordinal", "id"
        )


class Player(models.Model):
    """A person (or guest) who plays: display name, rating, record and ban state.

    Or a computer player (`is_bot`): one per game, level and number, made by
    `games.services.bots` with a user that cannot log in; the runner plays its seats.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="player"
    )
    display_name = models.CharField(max_length=32)
    is_guest = models.BooleanField(default=False)
    rating_mu = models.FloatField(default=DEFAULT_MU)
    rating_sigma = models.FloatField(default=DEFAULT_SIGMA)
    # Stored rather than computed so the leaderboard can be an index scan.
    rating_ordinal = models.FloatField(default=0.0)
    matches_played = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    draws = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True)
    is_banned = models.BooleanField(default=False)
    ban_reason = models.CharField(max_length=200, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    # End of a temporary ban; None while banned: permanent. An expired ban is
    # lifted where it is checked (games.services.players.check_can_play), not by a cron.
    banned_until = models.DateTimeField(null=True, blank=True)
    # A mute ends by itself: check_can_chat compares with the clock, nothing lifts it.
    muted_until = models.DateTimeField(null=True, blank=True)
    mute_reason = models.CharField(max_length=200, blank=True)
    # Abandonments before this time no longer count towards a queue cooldown
    # (an operator cleared it); see games.services.cooldowns.
    cooldown_cleared_at = models.DateTimeField(null=True, blank=True)
    is_bot = models.BooleanField(default=False, help_text="A computer player the server plays.")
    bot_level = models.CharField(
        max_length=16, blank=True, help_text="How well the bot plays; empty for people."
    )

    objects = PlayerQuerySet.as_manager()

    class Meta:
        permissions = [
            ("ban_temporarily", "Can ban players for a time, and lift such bans"),
            ("ban_permanently", "Can ban players permanently, and lift any ban"),
            ("clear_cooldown", "Can clear a player's queue cooldown"),
        ]
        constraints = [
            # "Alice" and "alice" would be indistinguishable on a scoreboard.
            models.UniqueConstraint(Lower("display_name"), name="player_display_name_ci_unique"),
            models.CheckConstraint(
                condition=Q(is_banned=False) | Q(banned_at__isnull=False),
                name="player_banned_has_time",
            ),
            models.CheckConstraint(
                condition=Q(banned_until__isnull=True) | Q(is_banned=True),
                name="player_ban_end_only_when_banned",
            ),
            models.CheckConstraint(
                condition=Q(is_bot=False, bot_level="") | (Q(is_bot=True) & ~Q(bot_level="")),
                name="player_bot_has_level",
            ),
        ]
        indexes = [
            models.Index(
                fields=["-rating_ordinal", "id"],
                condition=Q(matches_played__gt=0, is_banned=False, is_bot=False),
                name="player_leaderboard_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def ban_in_force(self) -> bool:
        """Whether the player is banned now (a temporary ban past its end is not)."""
        return self.is_banned and (self.banned_until is None or self.banned_until > timezone.now())


class MatchStatus(models.TextChoices):
    """protocol.MatchStatus, with the labels the admin shows."""

    WAITING = protocol.MatchStatus.WAITING.value, "Waiting for players"
    ACTIVE = protocol.MatchStatus.ACTIVE.value, "In progress"
    FINISHED = protocol.MatchStatus.FINISHED.value, "Finished"
    ABORTED = protocol.MatchStatus.ABORTED.value, "Aborted"


class MatchQuerySet(models.QuerySet["Match"]):
    def open_lobby(self, game: str) -> MatchQuerySet:
        """Public matches of `game` still waiting for players, oldest first.

        Served by `match_lobby_idx`; callers add `with_participants()` to avoid N+1.
        """
        return self.filter(game=game, status=MatchStatus.WAITING, is_private=False).order_by(
            "created_at", "id"
        )

    def with_participants(self) -> MatchQuerySet:
        return self.prefetch_related(
            models.Prefetch(
                "participants",
                queryset=Participant.objects.select_related("player").order_by("seat"),
            )
        )


class Match(models.Model):
    """One game played by up to `max_players` seats, from waiting to finished or aborted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    game = models.CharField(max_length=32, help_text="Key of the game in the game registry.")
    status = models.CharField(
        max_length=16, choices=MatchStatus.choices, default=MatchStatus.WAITING
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        Player,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_matches",
    )
    max_players = models.PositiveSmallIntegerField()
    is_private = models.BooleanField(default=False)
    join_code = models.CharField(max_length=8, unique=True, null=True, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0, help_text="Seed of the game's random numbers.")
    result = models.JSONField(null=True, blank=True, help_text="Final result summary.")
    # Highest fencing token of a runner that wrote this match. A runner whose
    # lease was taken over holds a lower token, and its writes are refused.
    runner_fence = models.BigIntegerField(default=0)

    objects = MatchQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "matches"
        permissions = [
            ("abort_match", "Can abort matches"),
            ("kick_player", "Can remove players from live matches"),
            ("message_match", "Can send a message to a live match's players"),
            ("broadcast", "Can send a message to every connected player"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MatchStatus.values), name="match_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_players__gte=1, max_players__lte=16),
                name="match_max_players_range",
            ),
            models.CheckConstraint(
                condition=Q(is_private=False) | Q(join_code__isnull=False),
                name="match_private_has_code",
            ),
        ]
        indexes = [
            models.Index(
                fields=["game", "created_at", "id"],
                condition=Q(status="waiting", is_private=False),
                name="match_lobby_idx",
            ),
            models.Index(fields=["status", "-created_at"], name="match_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.game} {str(self.id)[:8]} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class SeatResult(models.TextChoices):
    WIN = "win", "Win"
    LOSS = "loss", "Loss"
    DRAW = "draw", "Draw"
    ABANDONED = "abandoned", "Abandoned"


class ParticipantQuerySet(models.QuerySet["Participant"]):
    def history_for(self, player: Player) -> ParticipantQuerySet:
        """A player's matches, newest first, with the match loaded and `with_bots`: whether
        a bot sat in it. Served by `participant_history_idx`.
        """
        bots = Participant.objects.filter(match=models.OuterRef("match"), player__is_bot=True)
        return (
            self.filter(player=player)
            .select_related("match")
            .annotate(with_bots=models.Exists(bots))
            .order_by("-joined_at", "-id")
        )


class Participant(models.Model):
    """A player's seat in a match, and how it went for them."""

    # No separate foreign-key indexes: the unique (match, ...) constraints and the
    # (player, joined_at) history index already start with these columns.
    match = models.ForeignKey(
        Match, on_delete=models.CASCADE, related_name="participants", db_index=False
    )
    # PROTECT: a player with match history is banned, not deleted, so other
    # players' finished matches never lose a seat.
    player = models.ForeignKey(
        Player, on_delete=models.PROTECT, related_name="participations", db_index=False
    )
    seat = models.PositiveSmallIntegerField()
    score = models.IntegerField(default=0)
    outcome = models.CharField(
        max_length=16, choices=SeatResult.choices, blank=True, help_text="Empty until the end."
    )
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_before = models.FloatField(null=True, blank=True, help_text="Ordinal before.")
    rating_after = models.FloatField(null=True, blank=True, help_text="Ordinal after.")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "player"], name="participant_player_once"),
            models.UniqueConstraint(fields=["match", "seat"], name="participant_seat_once"),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=SeatResult.values),
                name="participant_outcome_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["player", "-joined_at", "-id"], name="participant_history_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.player} in seat {self.seat}"

    @property
    def rating_change(self) -> float | None:
        if self.rating_before is None or self.rating_after is None:
            return None
        return self.rating_after - self.rating_before


class Replay(models.Model):
    """Everything needed to re-simulate a finished match: seed, settings and the input log.

    The log is a list of [tick, seat, input] (input null when the seat left),
    stored as zlib-compressed JSON; `final_state` is the spectator view at the
    end, so a replay can be checked against what players saw.
    """

    match = models.OneToOneField(
        Match, on_delete=models.CASCADE, primary_key=True, related_name="replay"
    )
    game = models.CharField(max_length=32)
    seed = models.BigIntegerField()
    settings = models.JSONField(default=dict)
    seats = models.PositiveSmallIntegerField()
    final_tick = models.PositiveIntegerField()
    log = models.BinaryField()
    final_state = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"replay of {self.match_id}"

    def entries(self) -> list[list[Any]]:
        data: list[list[Any]] = json.loads(zlib.decompress(bytes(self.log)))
        return data

    @staticmethod
    def pack(entries: list[list[Any]]) -> bytes:
        return zlib.compress(json.dumps(entries, separators=(",", ":")).encode(), 6)


class AuditAction(models.TextChoices):
    BAN = "ban", "Ban"
    UNBAN = "unban", "Unban"
    ABORT = "abort", "Abort match"
    CLAIM_REPORT = "claim_report", "Claim report"
    RESOLVE_REPORT = "resolve_report", "Resolve report"
    WARN = "warn", "Warn"
    MUTE = "mute", "Mute"
    CLEAR_COOLDOWN = "clear_cooldown", "Clear cooldown"
    KICK = "kick", "Kick from a match"
    MESSAGE = "message", "Message a match"
    BROADCAST = "broadcast", "Broadcast"


class AuditLogIsAppendOnly(Exception):
    """An audit entry was to be changed or deleted; the log only grows."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    # Append-only: the bulk paths that would bypass AuditEntry.save and delete.
    def update(self, **kwargs: Any) -> int:
        raise AuditLogIsAppendOnly("Audit entries are never changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit entries are never deleted.")


class AuditEntry(models.Model):
    """One operator action: who, when, what, on what and why. Written by services only.

    The operator's name is kept as text beside the link to their account, so the
    entry still says who acted after the account is deleted (the link becomes null).
    """

    at = models.DateTimeField("when", default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # served by audit_actor_idx
    )
    actor_name = models.CharField(
        "operator", max_length=150, help_text="The operator's username then; 'system' for scripts."
    )
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    target_type = models.CharField(max_length=16, help_text="player, match, or site (a broadcast)")
    target_id = models.CharField(max_length=64)
    target_name = models.CharField(max_length=100, help_text="The target's name then.")
    reason = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_recent_idx"),
            models.Index(fields=["actor", "-at"], name="audit_actor_idx"),
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.get_action_display()} {self.target_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit entries are never deleted.")


class ChatLine(models.Model):
    """One chat line said in a match, kept `CHAT_RETENTION_DAYS` as evidence for reports."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="chat_lines")
    player = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="chat_lines", db_index=False
    )
    seat = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: a spectator.")
    text = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["match", "at"], name="chat_match_idx"),
            models.Index(fields=["at"], name="chat_age_idx"),  # pruning
            models.Index(fields=["player", "-at"], name="chat_player_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.player}: {self.text[:40]}"


class ReportReason(models.TextChoices):
    CHEATING = "cheating", "Cheating"
    CHAT_ABUSE = "chat_abuse", "Abuse in chat"
    GRIEFING = "griefing", "Leaving or griefing"
    NAME = "name", "Offensive name"
    OTHER = "other", "Other"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    RESOLVED = "resolved", "Resolved"


class Resolution(models.TextChoices):
    DISMISS = "dismiss", "Dismiss"
    WARN = "warn", "Warn"
    MUTE = "mute", "Mute chat"
    TEMPORARY_BAN = "temporary_ban", "Temporary ban"
    PERMANENT_BAN = "permanent_ban", "Permanent ban"


class Report(models.Model):
    """A player's report of another from a match they were both in; the match is the evidence."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="reports_made", db_index=False
    )
    reported = models.ForeignKey(
        Player, on_delete=models.CASCADE, related_name="reports_received", db_index=False
    )
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    text = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_name = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="The moderator's reason.")

    class Meta:
        permissions = [("handle_report", "Can claim and resolve reports, warn and mute")]
        constraints = [
            models.UniqueConstraint(
                fields=["match", "reporter", "reported"], name="report_once_per_match"
            ),
            models.CheckConstraint(
                condition=~Q(reporter=models.F("reported")), name="report_not_self"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=ReportReason.values), name="report_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReportStatus.values), name="report_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="report_queue_idx"),
            models.Index(fields=["reporter", "-created_at"], name="report_reporter_idx"),
            models.Index(fields=["reported", "-created_at"], name="report_reported_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reporter} reported {self.reported} ({self.get_reason_display()})"


class NoticeKind(models.TextChoices):
    WARNING = "warning", "Warning"
    REPORT_HANDLED = "report_handled", "Report handled"


class Notice(models.Model):
    """A message from the moderators, shown to the player on their next visit until read."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["player", "created_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="notice_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.player}"
