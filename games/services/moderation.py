"""Operator actions on matches and players' conduct: aborts, kicks, messages to a match
and broadcasts, reports, warnings, mutes.

Each action writes its audit entry in the same transaction. Bans and unbans are
in `players`, next to the ban checks they feed; a report resolved as a ban
calls them, so the ban closes the player's sockets and is audited as any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from games import protocol
from games.models import (
    AuditAction,
    AuditEntry,
    Match,
    MatchStatus,
    Notice,
    NoticeKind,
    Participant,
    Player,
    Report,
    ReportReason,
    ReportStatus,
    Resolution,
)
from games.services import announce, audit
from games.services.audit import Actor
from games.services.errors import (
    AlreadyReported,
    IllegalTransition,
    InvalidRequest,
    MatchNotFound,
    ReportClosed,
    TooManyReports,
)
from games.services.lifecycle import abort_match
from games.services.players import ban_player, format_ban_end

REPORTS_PER_HOUR = 5
MAX_REPORT_TEXT = 500
# An operator's message to a match or to everyone, and how long a broadcast is shown to
# people who arrive after it was sent (those connected see it at once).
MAX_MESSAGE_TEXT = 200
BROADCAST_MINUTES = (1, 60)
LIVE = (MatchStatus.WAITING, MatchStatus.ACTIVE)


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


# --- The live console: kicks, messages, broadcasts ---------------------------------------


def kick_player(match_id: Any, player_id: int, reason: str, *, by: Actor) -> Participant:
    """Remove a player from a waiting or active match, without banning them.

    Their sockets of that match close on every process (4005, with "An operator
    removed you from this match: <reason>"), they may not connect to it again, and
    their seat follows the game's reconnection rule: given up before the start, and
    after the grace period the game's abandonment (a forfeit in Connect Four,
    removal in the arena). Their other sockets stay open and they may play
    elsewhere. Raises InvalidRequest without a reason, for a player without a seat
    or removed already, MatchNotFound, and IllegalTransition for a match over.
    """
    reason = _message_text(reason, "A kick says why.")
    with transaction.atomic():
        match = _locked_live_match(match_id)
        seat = (
            match.participants.select_for_update()
            .select_related("player")
            .filter(player_id=player_id)
            .first()
        )
        if seat is None:
            raise InvalidRequest("That player has no seat in this match.")
        if seat.left_at is not None:
            raise InvalidRequest(f"{seat.player.display_name} was removed from it already.")
        # A seat left during play: what `access` reads to refuse their reconnection.
        seat.left_at = timezone.now()
        seat.save(update_fields=["left_at"])
        audit.record(by, AuditAction.KICK, seat.player, reason, match=str(match.pk))
        announce.kicked_on_commit(player_id, match.pk, kick_message(reason))
    return seat


def kick_message(reason: str) -> str:
    """What a kicked player reads as their socket closes."""
    return f"An operator removed you from this match: {reason}"


def message_match(match_id: Any, text: str, *, by: Actor) -> AuditEntry:
    """Send an operator's message to every socket of a waiting or active match (players
    and spectators), shown as a banner. Raises InvalidRequest for an empty or too long
    text, MatchNotFound, and IllegalTransition for a match over."""
    text = _message_text(text, "Write the message.")
    with transaction.atomic():
        match = _locked_live_match(match_id)
        entry = audit.record(by, AuditAction.MESSAGE, match, text)
        frame = protocol.notice(entry.pk, "match", text)
        announce.notice_on_commit(frame, match_ids=[match.pk])
    return entry


@dataclass(frozen=True)
class Broadcast:
    """A message to every player, shown until `until` to those who arrive after it."""

    id: int
    text: str
    until: datetime

    def frame(self) -> str:
        return protocol.notice(self.id, "broadcast", self.text, self.until.isoformat())


def broadcast(text: str, minutes: int, *, by: Actor) -> Broadcast:
    """Show a message to every connected player (every lobby socket and every socket of
    a live match) at once, and for `minutes` to everyone who opens a page after.

    A new broadcast replaces the one shown. InvalidRequest for an empty or too long
    text, or minutes outside 1-60.
    """
    text = _message_text(text, "Write the message.")
    low, high = BROADCAST_MINUTES
    if not low <= minutes <= high:
        raise InvalidRequest(f"A broadcast is shown for {low} to {high} minutes.")
    until = timezone.now() + timedelta(minutes=minutes)
    with transaction.atomic():
        entry = audit.record(by, AuditAction.BROADCAST, None, text, until=until.isoformat())
        sent = Broadcast(entry.pk, text, until)
        live = list(Match.objects.filter(status__in=LIVE).values_list("pk", flat=True))
        announce.notice_on_commit(sent.frame(), match_ids=live, lobby=True)
    return sent


def current_broadcast() -> Broadcast | None:
    """The broadcast still shown to people who arrive now, if any: the latest, until its end.

    Read from the audit log, which keeps every broadcast with its end: nothing else
    to store, and the newest entry is the one shown.
    """
    entry = (
        AuditEntry.objects.filter(action=AuditAction.BROADCAST)
        .order_by("-at", "-id")
        .only("pk", "reason", "details")
        .first()
    )
    if entry is None or "until" not in entry.details:
        return None
    until = datetime.fromisoformat(entry.details["until"])
    return Broadcast(entry.pk, entry.reason, until) if until > timezone.now() else None


def _message_text(text: str, missing: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidRequest(missing)
    if len(text) > MAX_MESSAGE_TEXT:
        raise InvalidRequest(f"At most {MAX_MESSAGE_TEXT} characters.")
    return text


def _locked_live_match(match_id: Any) -> Match:
    match = Match.objects.select_for_update().filter(pk=match_id).first()
    if match is None:
        raise MatchNotFound("No such match.")
    if match.status not in LIVE:
        raise IllegalTransition(f"The match is {match.status} already.")
    return match


# --- Reports ---------------------------------------------------------------------------


def report_player(
    reporter: Player, match_id: Any, reported_id: int, reason: str, text: str = ""
) -> Report:
    """File `reporter`'s report of another player of a match they both sat in.

    Raises MatchNotFound if the reporter had no seat in the match, InvalidRequest
    for a reported player without one (or the reporter themselves), an unknown
    reason or a text over 500 characters, TooManyReports past 5 reports an hour,
    and AlreadyReported for a second report of the same player in the same match.
    """
    text = text.strip()
    if reason not in ReportReason.values:
        raise InvalidRequest(f"A report's reason is one of: {', '.join(ReportReason.values)}.")
    if len(text) > MAX_REPORT_TEXT:
        raise InvalidRequest(f"A report's text is at most {MAX_REPORT_TEXT} characters.")
    seated = set(Participant.objects.filter(match_id=match_id).values_list("player_id", flat=True))
    if reporter.pk not in seated:
        raise MatchNotFound("You can report players only from a match you played in.")
    if reported_id == reporter.pk or reported_id not in seated:
        raise InvalidRequest("Report another player of this match.")
    with transaction.atomic():
        # The reporter's row serialises their reports, so the hourly count holds under races.
        Player.objects.select_for_update().filter(pk=reporter.pk).first()
        _check_report_limits(reporter, match_id, reported_id)
        try:
            with transaction.atomic():
                return Report.objects.create(
                    match_id=match_id,
                    reporter=reporter,
                    reported_id=reported_id,
                    reason=reason,
                    text=text,
                )
        except IntegrityError as exc:
            raise AlreadyReported("You have reported this player for this match.") from exc


def _check_report_limits(reporter: Player, match_id: Any, reported_id: int) -> None:
    if Report.objects.filter(
        match_id=match_id, reporter=reporter, reported_id=reported_id
    ).exists():
        raise AlreadyReported("You have reported this player for this match.")
    hour_ago = timezone.now() - timedelta(hours=1)
    if (
        Report.objects.filter(reporter=reporter, created_at__gt=hour_ago).count()
        >= REPORTS_PER_HOUR
    ):
        raise TooManyReports(f"You can send {REPORTS_PER_HOUR} reports an hour; try again later.")


def claim_report(report_id: int, *, by: User) -> Report:
    """Assign a report to the moderator `by` (taking it over from another if claimed).

    ReportClosed once resolved. Claiming one's own claim again changes nothing
    and writes no audit entry.
    """
    with transaction.atomic():
        report = _locked_report(report_id)
        if report.assigned_to_id == by.pk:
            return report
        previous = report.assigned_to.get_username() if report.assigned_to else ""
        report.status, report.assigned_to, report.claimed_at = (
            ReportStatus.CLAIMED,
            by,
            timezone.now(),
        )
        report.save(update_fields=["status", "assigned_to", "claimed_at"])
        details: dict[str, Any] = {"report": report.pk}
        if previous:
            details["taken_from"] = previous
        audit.record(by, AuditAction.CLAIM_REPORT, report.reported, "", **details)
    return report


@dataclass(frozen=True)
class Decision:
    """How a moderator resolves a report: the resolution, the reason given, and an end
    for a mute or a temporary ban."""

    resolution: str
    note: str
    until: datetime | None = None


def resolve_report(report_id: int, decision: Decision, *, by: User) -> Report:
    """Close a report with a decision, acted on the reported player, and tell the reporter.

    Dismiss does nothing to the player; warn leaves them a notice; mute stops their
    chat until `until`; a temporary ban (until `until`) or a permanent one goes
    through `ban_player`, which closes their sockets. Who may choose which is the
    caller's to check (a permanent ban is the operators'). The resolution is
    audited, and so is its action. ReportClosed if already resolved,
    InvalidRequest for a mute or temporary ban without a future end.
    """
    note = decision.note.strip()[:200]
    with transaction.atomic():
        report = _locked_report(report_id)
        reported = report.reported
        _act(decision.resolution, reported, note, decision.until, by)
        report.status, report.resolution = ReportStatus.RESOLVED, decision.resolution
        report.resolved_at, report.resolved_by_name = timezone.now(), by.get_username()
        report.note = note
        if report.assigned_to_id is None:
            report.assigned_to, report.claimed_at = by, report.resolved_at
        report.save(
            update_fields=[
                "status",
                "resolution",
                "resolved_at",
                "resolved_by_name",
                "note",
                "assigned_to",
                "claimed_at",
            ]
        )
        audit.record(
            by,
            AuditAction.RESOLVE_REPORT,
            reported,
            note,
            report=report.pk,
            resolution=decision.resolution,
        )
        _notify(report.reporter, NoticeKind.REPORT_HANDLED, _handled_message(report))
    return report


def _act(resolution: str, player: Player, note: str, until: datetime | None, by: User) -> None:
    if resolution == Resolution.DISMISS:
        return
    if resolution == Resolution.WARN:
        warn_player(player, note, by=by)
    elif resolution == Resolution.MUTE:
        mute_player(player, until, note, by=by)
    elif resolution == Resolution.TEMPORARY_BAN:
        if until is None:
            raise InvalidRequest("A temporary ban needs an end.")
        ban_player(player, note, until=until, by=by)
    elif resolution == Resolution.PERMANENT_BAN:
        ban_player(player, note, by=by)
    else:
        raise InvalidRequest(f"Unknown resolution {resolution!r}.")


def _handled_message(report: Report) -> str:
    name, game = report.reported.display_name, report.match.game
    if report.resolution == Resolution.DISMISS:
        outcome = "a moderator reviewed it and took no action"
    else:
        outcome = "a moderator reviewed it and acted on it"
    return f"Thank you for your report of {name} ({game}): {outcome}."


def _locked_report(report_id: int) -> Report:
    report = (
        Report.objects.select_for_update(of=("self",))
        .select_related("reported", "reporter", "match", "assigned_to")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise InvalidRequest("No such report.")
    if report.status == ReportStatus.RESOLVED:
        raise ReportClosed(f"This report was resolved already ({report.resolved_by_name}).")
    return report


# --- Warnings, notices and mutes ---------------------------------------------------------


def warn_player(player: Player, message: str, *, by: Actor) -> Notice:
    """Leave the player a warning, shown on their next visit until they acknowledge it."""
    message = message.strip()[:300]
    if not message:
        raise InvalidRequest("A warning says what it is for.")
    with transaction.atomic():
        notice = _notify(player, NoticeKind.WARNING, message)
        audit.record(by, AuditAction.WARN, player, message[:200])
    return notice


def mute_player(player: Player, until: datetime | None, reason: str, *, by: Actor) -> None:
    """Mute the player's match chat until `until` (a mute replaces the one in force).

    InvalidRequest if `until` is missing or not in the future.
    """
    if until is None or until <= timezone.now():
        raise InvalidRequest("A mute must end in the future.")
    reason = reason.strip()[:200]
    with transaction.atomic():
        Player.objects.filter(pk=player.pk).update(muted_until=until, mute_reason=reason)
        player.muted_until, player.mute_reason = until, reason
        audit.record(by, AuditAction.MUTE, player, reason, until=until.isoformat())


def pending_notices(player: Player) -> list[Notice]:
    """Warnings and "your report was handled" notices the player has not acknowledged,
    oldest first."""
    return list(
        Notice.objects.filter(player=player, acknowledged_at__isnull=True).order_by(
            "created_at", "id"
        )
    )


def acknowledge_notices(player: Player, notice_ids: list[int]) -> int:
    """Mark the player's notices `notice_ids` read; how many were pending.

    Ids of other players' notices are ignored.
    """
    return Notice.objects.filter(
        player=player, pk__in=notice_ids, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now())


def mute_in_words(player: Player) -> str:
    """'until 2026-12-01 21:10 UTC' while muted, else '-'."""
    if player.muted_until is None or player.muted_until <= timezone.now():
        return "-"
    return f"until {format_ban_end(player.muted_until)}"


def _notify(player: Player, kind: str, message: str) -> Notice:
    return Notice.objects.create(player=player, kind=kind, message=message[:300])
