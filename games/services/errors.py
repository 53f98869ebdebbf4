"""The refusals of the service layer: ServiceError and every subclass, each with a stable `code`."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the rules refuse; `code` is stable for clients, the message is for people."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ServiceError):
    """The request names an unknown game, a bad setting or an impossible size."""

    code = "invalid_request"


class MatchNotFound(ServiceError):
    """No match with that id or code that this player may see."""

    code = "match_not_found"


class MatchNotJoinable(ServiceError):
    """The match has started or ended; only waiting matches take players."""

    code = "match_not_joinable"


class MatchFull(ServiceError):
    """Every seat of the match is taken."""

    code = "match_full"


class AlreadySeated(ServiceError):
    """The player already holds a seat in this match."""

    code = "already_seated"


class PlayerBanned(ServiceError):
    """Banned players may not create or join matches."""

    code = "player_banned"


class AlreadyPlaying(ServiceError):
    """The player holds a seat in a match in progress, so may not queue for another.

    `match_id` and `game` name that match, so a client can offer to rejoin it.
    """

    code = "in_match"

    def __init__(self, message: str, match_id: str, game: str) -> None:
        super().__init__(message)
        self.match_id, self.game = match_id, game


class IllegalTransition(ServiceError):
    """The match cannot move from its current status to the requested one."""

    code = "illegal_transition"


class NotReady(ServiceError):
    """Some seated players are not connected and ready, so the match cannot start."""

    code = "not_ready"


class StaleRunner(ServiceError):
    """A runner whose lease was taken over tried to write; its fencing token is too old."""

    code = "stale_runner"


class InvalidResult(ServiceError):
    """A result does not name exactly the match's seats."""

    code = "invalid_result"


class MatchInProgress(ServiceError):
    """The player was already taken into a group; its match is being created."""

    code = "matching"


class NotQueued(ServiceError):
    """The player is in no queue."""

    code = "not_queued"


class PlayerMuted(ServiceError):
    """A moderator muted the player's chat until `until`; the message says until when."""

    code = "muted"


class QueueCooldown(ServiceError):
    """The player left rated matches early and must wait before queueing again.

    `seconds_left` is how long; the message says it in words.
    """

    code = "cooldown"

    def __init__(self, message: str, seconds_left: int) -> None:
        super().__init__(message)
        self.seconds_left = seconds_left


class TooManyReports(ServiceError):
    """The reporter reached the hourly limit of reports."""

    code = "too_many_reports"


class AlreadyReported(ServiceError):
    """The reporter already reported this player for this match."""

    code = "already_reported"


class ReportClosed(ServiceError):
    """The report was resolved already; nothing more is done to it."""

    code = "report_closed"
