"""Every write to players and matches: accounts, lobby, lifecycle, results, ratings, bans.

Each public function is one transaction. Rows that two processes could change
at once are locked with select_for_update (a no-op on SQLite, where the
IMMEDIATE transaction mode serialises writers instead). The JSON API, the
admin and the match runtime all call these functions, so they cannot diverge.

The modules are split by noun: `errors`, `players`, `seating`, `queueing`,
`lifecycle`, `results`, `ratings` (the rating maths, pure), `bots` (computer
players and the matches they sit in), `rematch` (a finished match played
again by the same people), `moderation`
(operator actions: aborts, reports, warnings, mutes), `chat` (stored match
chat), `cooldowns` (queue cooldowns after abandonments), `audit` (the
operators' log) and `announce`.
This package re-exports every public function and error, so callers write
`services.start_match(...)`.

May import: Django, `games.models`, `games.engine`, `games.protocol` and other
`games.services` modules. Only `announce.py` touches the channel layer (and the
channel and group names it needs, from the runtime's message names).
Must not import: `games.runtime`, `games.sockets`, `games.matchmaking`,
`games.cluster`.
"""

from games.services.bots import (
    bot_player,
    check_bot_level,
    create_bot_match,
    create_queued_bot_match,
)
from games.services.chat import check_can_chat, prune_chat, record_chat
from games.services.cooldowns import check_cooldown, clear_cooldown, current_cooldown
from games.services.errors import (
    AlreadyPlaying,
    AlreadyReported,
    AlreadySeated,
    IllegalTransition,
    InvalidRequest,
    InvalidResult,
    MatchFull,
    MatchInProgress,
    MatchNotFound,
    MatchNotJoinable,
    NotQueued,
    NotReady,
    PlayerBanned,
    PlayerMuted,
    QueueCooldown,
    ReportClosed,
    ServiceError,
    StaleRunner,
    TooManyReports,
)
from games.services.lifecycle import LEGAL_TRANSITIONS, abort_match, start_match, take_runner_fence
from games.services.moderation import (
    Broadcast,
    Decision,
    abort_match_by_operator,
    acknowledge_notices,
    broadcast,
    claim_report,
    current_broadcast,
    kick_player,
    message_match,
    mute_player,
    pending_notices,
    report_player,
    resolve_report,
    warn_player,
)
from games.services.players import (
    ban_player,
    check_can_play,
    claim_guest,
    create_guest,
    create_player,
    display_name_taken,
    ensure_player,
    format_ban_end,
    lift_expired_ban,
    touch_player,
    touch_player_if_stale,
    unban_player,
)
from games.services.queueing import (
    OpenMatch,
    QueuedMatch,
    check_can_queue,
    create_queued_match,
    open_public_matches,
    quick_join,
    seat_queued_players,
)
from games.services.rematch import (
    RematchDecline,
    RematchPlayer,
    RematchState,
    ask_rematch,
    decline_rematch,
    rematch_state,
)
from games.services.results import ReplayData, SeatRecord, finish_match, match_is_rated
from games.services.seating import (
    create_match,
    join_match,
    join_private_match,
    leave_waiting_match,
)

__all__ = [
    "LEGAL_TRANSITIONS",
    "AlreadyPlaying",
    "AlreadyReported",
    "AlreadySeated",
    "Broadcast",
    "Decision",
    "IllegalTransition",
    "InvalidRequest",
    "InvalidResult",
    "MatchFull",
    "MatchInProgress",
    "MatchNotFound",
    "MatchNotJoinable",
    "NotQueued",
    "NotReady",
    "OpenMatch",
    "PlayerBanned",
    "PlayerMuted",
    "QueueCooldown",
    "QueuedMatch",
    "RematchDecline",
    "RematchPlayer",
    "RematchState",
    "ReplayData",
    "ReportClosed",
    "SeatRecord",
    "ServiceError",
    "StaleRunner",
    "TooManyReports",
    "abort_match",
    "abort_match_by_operator",
    "acknowledge_notices",
    "ask_rematch",
    "ban_player",
    "bot_player",
    "broadcast",
    "check_bot_level",
    "check_can_chat",
    "check_can_play",
    "check_can_queue",
    "check_cooldown",
    "claim_guest",
    "claim_report",
    "clear_cooldown",
    "create_bot_match",
    "create_guest",
    "create_match",
    "create_player",
    "create_queued_bot_match",
    "create_queued_match",
    "current_broadcast",
    "current_cooldown",
    "decline_rematch",
    "display_name_taken",
    "ensure_player",
    "finish_match",
    "format_ban_end",
    "join_match",
    "join_private_match",
    "kick_player",
    "leave_waiting_match",
    "lift_expired_ban",
    "match_is_rated",
    "message_match",
    "mute_player",
    "open_public_matches",
    "pending_notices",
    "prune_chat",
    "quick_join",
    "record_chat",
    "rematch_state",
    "report_player",
    "resolve_report",
    "seat_queued_players",
    "start_match",
    "take_runner_fence",
    "touch_player",
    "touch_player_if_stale",
    "unban_player",
    "warn_player",
]
