"""The WebSocket protocol (match and lobby sockets): schemas, builders, error and close codes.

One module for everything that crosses the wire, so docs/protocol.md has one
source. Inbound frames are decoded and validated by msgspec in one step;
outbound frames are built here and encoded once, then forwarded as bytes.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

import msgspec

from games import jsonlimits

PROTOCOL_VERSION = 1
# Sec-WebSocket-Protocol values this server speaks, in its order of preference when
# a client offers several equally. JSON is the default for clients that offer none.
SUBPROTOCOL_JSON = "arcade.v1.json"
SUBPROTOCOL_MSGPACK = "arcade.v1.msgpack"
# Binary states in the game's own struct layout, as deltas from acknowledged states
# (games without one send msgpack states); control frames stay JSON text.
SUBPROTOCOL_COMPACT = "arcade.v1.compact"
SUBPROTOCOLS = (SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, SUBPROTOCOL_COMPACT)


class UnsupportedSubprotocol(Exception):
    """The client offered subprotocols, none of which this server speaks."""


def choose_subprotocol(offered: list[str]) -> str | None:
    """The subprotocol to accept: the client's first one we speak; None if it offered none.

    Raises UnsupportedSubprotocol if it offered only versions we do not speak.
    """
    if not offered:
        return None
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    raise UnsupportedSubprotocol(", ".join(offered))


MAX_MESSAGE_BYTES = 4096
# Arrays and objects nested in one inbound frame, the frame itself included: an input's
# `data` is level 2, so a game's input may nest 6 more. Deeper is refused as malformed.
MAX_JSON_DEPTH = 8
MAX_CHAT_CHARS = 200


class MatchStatus(enum.StrEnum):
    """Where a match is in its life, as the welcome frame and the API say it; games.models
    stores it (models.MatchStatus, the same values with their labels for the admin)."""

    WAITING = "waiting"
    ACTIVE = "active"
    FINISHED = "finished"
    ABORTED = "aborted"


# The statuses a match never leaves.
ENDED = frozenset({MatchStatus.FINISHED, MatchStatus.ABORTED})


class CloseCode:
    """Close codes sent after accept(); daphne can send only 1000 and 3000-4999.

    Clients must not reconnect after 4001, 4003, 4004, 4005, 4010, 4404 and 4426;
    after the others they reconnect with backoff.
    """

    NORMAL = 1000
    NOT_AUTHENTICATED = 4001  # no session and no valid ticket
    FORBIDDEN = 4003  # banned, or not allowed to watch this match
    UNKNOWN_MATCH = 4004  # no such match
    KICKED = 4005  # an operator removed this player from the match (the reason says why)
    ABUSE = 4008  # too many bad or too many messages
    TOO_LARGE = 4009  # repeated oversized messages
    SUPERSEDED = 4010  # the same seat connected again elsewhere
    TOO_SLOW = 4011  # the client read too slowly: its unsent backlog passed the limit
    RESTARTING = 4012  # the server is shutting down: reconnect
    TRY_AGAIN = 4013  # a service the server needs (database, Redis) is unreachable: retry later
    UNKNOWN_PATH = 4404  # no socket is served at this path
    TOO_MANY_CONNECTIONS = 4029  # over the per-player or per-address cap of open sockets
    UNSUPPORTED_PROTOCOL = 4426  # none of the offered subprotocols (versions) is spoken here


CLOSE_REASONS = {
    CloseCode.NOT_AUTHENTICATED: "Log in or get a ticket first.",
    CloseCode.FORBIDDEN: "You may not join this match.",
    CloseCode.UNKNOWN_MATCH: "There is no such match.",
    CloseCode.KICKED: "An operator removed you from this match.",
    CloseCode.ABUSE: "Too many invalid or too frequent messages.",
    CloseCode.TOO_LARGE: "Messages too large.",
    CloseCode.SUPERSEDED: "You connected to this match from somewhere else.",
    CloseCode.TOO_SLOW: "Your connection is too slow to keep up with the match.",
    CloseCode.RESTARTING: "The server is restarting; reconnect.",
    CloseCode.TRY_AGAIN: "The server is briefly unavailable; try again in a few seconds.",
    CloseCode.UNKNOWN_PATH: "There is no socket at this address.",
    CloseCode.TOO_MANY_CONNECTIONS: "Too many open connections; close another tab first.",
    CloseCode.UNSUPPORTED_PROTOCOL: (
        f"Unsupported protocol version; this server speaks {', '.join(SUBPROTOCOLS)}."
    ),
}


class ErrorCode:
    """Codes of error frames; the socket stays open after each."""

    MALFORMED = "malformed"  # not JSON, or not an object with a known "type"
    UNKNOWN_TYPE = "unknown_type"  # "type" is missing or not one of the inbound types
    INVALID = "invalid"  # a known type with missing or wrong fields
    TOO_LARGE = "too_large"  # over MAX_MESSAGE_BYTES
    RATE_LIMITED = "rate_limited"  # too many messages; slow down
    SPECTATOR = "spectator"  # spectators cannot send inputs
    NOT_ACTIVE = "not_active"  # the match has not started or is over
    ILLEGAL = "illegal_input"  # the rules refused it; `reason` tells why (see game codes)
    CHAT_LIMIT = "chat_limit"  # chat too long or too fast
    MUTED = "muted"  # a moderator muted this player's chat; the message says until when
    # The lobby socket's matchmaking; the same codes as the service errors behind them.
    NOT_AUTHENTICATED = "not_authenticated"  # anonymous: play as a guest or log in first
    PLAYER_BANNED = "player_banned"  # banned players cannot queue
    INVALID_REQUEST = "invalid_request"  # an unknown game
    MATCHING = "matching"  # a match is being made for you: it cannot be cancelled now
    IN_MATCH = "in_match"  # seated in a match in progress; `match` names it, to rejoin
    NOT_QUEUED = "not_queued"  # unqueue while not in a queue
    COOLDOWN = "cooldown"  # left rated matches early: may queue again after the time given


# --- Inbound ------------------------------------------------------------------------


Tick = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class Input(msgspec.Struct, tag="input", forbid_unknown_fields=True):
    # The game's input, as JSON text: the socket parses it with the game's own schema
    # (Game.parse_input), so an error names the game's field and nothing else is kept.
    data: msgspec.Raw
    ack: Tick | None = None  # the newest state tick the client has (see Ack)


class Ack(msgspec.Struct, tag="ack", forbid_unknown_fields=True):
    """The newest state tick the client has: deltas are taken from it, and the server
    stops sending states to a client too many states behind (MAX_UNACKED_STATES)."""

    tick: Tick


class Ready(msgspec.Struct, tag="ready", forbid_unknown_fields=True):
    pass


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True):
    id: int
    t: float | None = None  # the client's clock, echoed back


class Chat(msgspec.Struct, tag="chat", forbid_unknown_fields=True):
    text: str


class Resync(msgspec.Struct, tag="resync", forbid_unknown_fields=True):
    pass


Inbound = Input | Ack | Ready | Ping | Chat | Resync
INBOUND_TYPES = "input, ack, ready, ping, chat, resync"
_decoder = msgspec.json.Decoder(Inbound)


# The lobby socket takes its own, smaller set: pings and the matchmaking queue.


class JoinQueue(msgspec.Struct, tag="queue", forbid_unknown_fields=True):
    game: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class LeaveQueue(msgspec.Struct, tag="unqueue", forbid_unknown_fields=True):
    pass


LobbyInbound = Ping | JoinQueue | LeaveQueue
LOBBY_INBOUND_TYPES = "ping, queue, unqueue"
_lobby_decoder = msgspec.json.Decoder(LobbyInbound)


class ProtocolError(Exception):
    """An inbound frame that cannot be accepted; `code` is an ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def decode(frame: str | bytes) -> Inbound:
    """Validate one inbound frame of the match socket; raises ProtocolError naming the problem."""
    message: Inbound = _decode(frame, _decoder, INBOUND_TYPES)
    return message


def decode_lobby(frame: str | bytes) -> LobbyInbound:
    """Validate one inbound frame of the lobby socket; raises ProtocolError naming the problem."""
    message: LobbyInbound = _decode(frame, _lobby_decoder, LOBBY_INBOUND_TYPES)
    return message


def _decode(frame: str | bytes, decoder: msgspec.json.Decoder[Any], types: str) -> Any:
    if len(frame) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"Messages are limited to {MAX_MESSAGE_BYTES} bytes."
        )
    # msgspec recurses into nested values, even ones it skips: bound the depth first.
    if jsonlimits.too_deep(frame, MAX_JSON_DEPTH):
        raise ProtocolError(
            ErrorCode.MALFORMED,
            f"Messages may nest arrays and objects at most {MAX_JSON_DEPTH} levels deep.",
        )
    try:
        return decoder.decode(frame)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.startswith("Expected `object`"):
            raise ProtocolError(ErrorCode.MALFORMED, "Messages must be JSON objects.") from exc
        if "`$.type`" in text or "field `type`" in text:
            raise ProtocolError(
                ErrorCode.UNKNOWN_TYPE, f"Unknown message type; use one of: {types}."
            ) from exc
        raise ProtocolError(ErrorCode.INVALID, f"Invalid message: {text}") from exc
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED, "Messages must be JSON objects.") from exc


# --- Outbound ------------------------------------------------------------------------
#
# Every frame the server sends is one Struct below, and one builder function makes it:
# the Struct is the frame's declared schema (docs/protocol.md documents each field;
# tests/test_protocol_doc.py and tests/test_protocol_schema.py hold both to it), and
# encoding the Struct is the frame. Field order is the wire order, `type` first.
# Game-defined content (a state, its events, a game's settings) is an object whose
# fields the game documents (docs/games.md), not this schema.

JSONObject = dict[str, Any]
Role = Literal["player", "spectator"]
# A seat's result (models.SeatResult); "outcome" is the engine's word for a match's end.
SeatResult = Literal["win", "loss", "draw", "abandoned"]


class _Part(msgspec.Struct, forbid_unknown_fields=True):
    """A nested object of a frame (no `type` of its own)."""


class _Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """An outbound frame: its tag is the `type` field."""


class MatchLink(_Part):
    """A match named to a lobby client: enough to open it."""

    id: str
    game: str
    url: str


class WelcomeMatch(_Part):
    id: str
    game: str
    status: str
    tick_rate: int
    settings: JSONObject
    max_players: int


class You(_Part):
    player_id: int
    seat: int | None  # None for spectators
    role: Role


class PlayerEntry(_Part):
    seat: int
    player_id: int
    name: str
    connected: bool
    ready: bool
    abandoned: bool
    bot: bool = False  # a computer player the server plays
    # Seconds the player has left to come back, as of when the frame was built: set
    # only while the match runs and their seat waits out its grace period. Seconds
    # left rather than a deadline, so that no client depends on its clock agreeing
    # with the server's.
    grace_left: float | None = None


class ResultSeat(_Part):
    seat: int
    player_id: int
    name: str
    outcome: SeatResult | None
    score: int
    rank: int | None
    rating_before: float | None
    rating_after: float | None
    bot: bool = False  # a computer player the server plays


class MatchResult(_Part):
    """A match's stored result: the `result` frame's fields, also in a late `welcome`."""

    status: str
    summary: str
    rated: bool
    seats: list[ResultSeat]


class ChatSender(_Part):
    player_id: int
    name: str
    seat: int | None


class LobbyGame(_Part):
    key: str
    title: str
    description: str
    min_players: int
    max_players: int
    tick_rate: int
    settings: JSONObject
    open: list[JSONObject]  # open matches, each as the JSON API shows a match
    live: list[JSONObject]  # public matches in progress, the same way


# `result` is left out when null: only a welcome to a match that is over has one.
class WelcomeFrame(_Frame, tag="welcome", omit_defaults=True):
    protocol: int
    match: WelcomeMatch
    subprotocol: str
    you: You
    players: list[PlayerEntry]
    tick: int
    state: JSONObject | None
    server_time: float
    result: MatchResult | None = None
    starts_in: float | None = None  # seconds of the start's countdown left (see PlayersFrame)


class PlayersFrame(_Frame, tag="players"):
    players: list[PlayerEntry]
    # Seconds left of the countdown before the first tick (nobody moves before it),
    # as of when the frame was built; null when none is running.
    starts_in: float | None = None


class StateFrame(_Frame, tag="state"):
    tick: int
    state: JSONObject
    events: list[JSONObject]


class ResultFrame(_Frame, tag="result"):
    status: str
    summary: str
    rated: bool
    seats: list[ResultSeat]


class AbortedFrame(_Frame, tag="aborted"):
    summary: str


class ChatFrame(_Frame, tag="chat"):
    sender: ChatSender = msgspec.field(name="from")
    text: str
    server_time: float


class NoticeFrame(_Frame, tag="notice"):
    """An operator's message, shown as a banner: to every socket (a broadcast) or to one
    match's sockets."""

    id: int  # the same message may come on several sockets of a page: shown once
    kind: Literal["broadcast", "match"]
    text: str
    until: str | None  # a broadcast's end (ISO 8601, UTC); null for a match's message


class PongFrame(_Frame, tag="pong"):
    id: int
    t: float | None
    server_time: float


class ClosingFrame(_Frame, tag="closing"):
    code: int
    reason: str


# `reason` (a game's code for illegal_input) and `match` (for in_match) are left out
# when null, as they were before either existed.
class ErrorFrame(_Frame, tag="error", omit_defaults=True):
    code: str
    message: str
    reason: str | None = None
    match: MatchLink | None = None


class LobbyFrame(_Frame, tag="lobby"):
    games: list[LobbyGame]
    online: int


class QueuedFrame(_Frame, tag="queued"):
    game: str
    window: float


class UnqueuedFrame(_Frame, tag="unqueued"):
    game: str
    reason: str | None


class MatchedFrame(_Frame, tag="matched"):
    match: MatchLink


class RematchPlayer(_Part):
    player_id: int
    name: str


# Why someone will not play a rematch: they said no, left the result (or the match), or
# the rules refused them when it was to start (banned, in another match, a cooldown).
RematchWhy = Literal["declined", "left", "unavailable"]


class RematchDecline(_Part):
    player_id: int
    name: str
    why: RematchWhy


class RematchFrame(_Frame, tag="rematch"):
    match: str  # the finished match whose rematch this is
    status: Literal["waiting", "declined"]
    wants: list[RematchPlayer]
    declined: list[RematchDecline]


OUTBOUND: tuple[type[_Frame], ...] = (
    WelcomeFrame,
    PlayersFrame,
    StateFrame,
    ResultFrame,
    AbortedFrame,
    ChatFrame,
    NoticeFrame,
    PongFrame,
    ClosingFrame,
    ErrorFrame,
    LobbyFrame,
    QueuedFrame,
    UnqueuedFrame,
    MatchedFrame,
    RematchFrame,
)
# Frame type -> its schema.
SCHEMAS: dict[str, type[_Frame]] = {str(cls.__struct_config__.tag): cls for cls in OUTBOUND}

_encoder = msgspec.json.Encoder()
_binary_encoder = msgspec.msgpack.Encoder()


def encode(message: Any) -> str:
    """A frame (or a plain dict) as JSON text."""
    return _encoder.encode(message).decode()


def encode_binary(message: Any) -> bytes:
    """The msgpack variant, sent as a binary frame to clients of arcade.v1.msgpack."""
    return _binary_encoder.encode(message)


def server_time_ms() -> float:
    return round(time.time() * 1000.0, 1)


# --- Builders: one per frame type ---------------------------------------------------


def welcome(
    match: WelcomeMatch,
    you: You,
    players: Iterable[Mapping[str, Any]],
    *,
    subprotocol: str | None,
    tick: int,
    state: JSONObject | None,
    result: Mapping[str, Any] | None = None,
    starts_in: float | None = None,
) -> str:
    """Everything a client needs to draw the match: on connect, after resync, after failover.

    `state` is None while the match waits and once it is over (`result` then holds
    its stored result, as `result_fields` reads it). `starts_in`: the seconds left of
    the start's countdown, while one runs.
    """
    frame = WelcomeFrame(
        protocol=PROTOCOL_VERSION,
        match=match,
        subprotocol=subprotocol or SUBPROTOCOL_JSON,
        you=you,
        players=_player_entries(players),
        tick=tick,
        state=state,
        server_time=server_time_ms(),
        result=None if result is None else _match_result(result),
        starts_in=_seconds(starts_in),
    )
    return encode(frame)


def players(entries: Iterable[Mapping[str, Any]], *, starts_in: float | None = None) -> str:
    """The seats, whenever someone connects, disconnects, becomes ready or abandons, and
    when the match starts (with the seconds of its countdown, if it has one)."""
    return encode(PlayersFrame(_player_entries(entries), _seconds(starts_in)))


def state(tick: int, view: JSONObject, events: list[JSONObject]) -> StateFrame:
    """One state for one audience; the caller encodes it once per encoding in use.

    (The hot path: a Struct of three fields encodes as fast as the dict it replaced.)
    """
    return StateFrame(tick, view, events)


def result(fields: Mapping[str, Any]) -> str:
    """The match's stored result, once, when it ends (`fields` as the store returns them)."""
    stored = _match_result(fields)
    return encode(ResultFrame(stored.status, stored.summary, stored.rated, stored.seats))


def aborted(summary: str) -> str:
    return encode(AbortedFrame(summary))


def chat(player_id: int, name: str, seat: int | None, text: str) -> str:
    """A chat line as everyone in the match hears it."""
    return encode(ChatFrame(ChatSender(player_id, name, seat), text, server_time_ms()))


def notice(
    notice_id: int, kind: Literal["broadcast", "match"], text: str, until: str | None = None
) -> str:
    """An operator's message to the players: a broadcast to everyone (until `until`), or
    a message to one match."""
    return encode(NoticeFrame(notice_id, kind, text, until))


def pong(ping: Ping) -> str:
    return encode(PongFrame(ping.id, ping.t, server_time_ms()))


def closing(code: int, reason: str = "") -> str:
    """Sent just before a close, because daphne drops the reason of a close frame."""
    return encode(ClosingFrame(code, reason or CLOSE_REASONS.get(code, "")))


def error(code: str, message: str, *, reason: str = "", match: MatchLink | None = None) -> str:
    """An error frame; the socket stays open.

    `reason` is the game's code of a refused input (ErrorCode.ILLEGAL). `match` names
    the match of an ErrorCode.IN_MATCH refusal as `matched` does, so a client can
    offer to rejoin it.
    """
    return encode(ErrorFrame(code, message, reason or None, match))


def lobby(games: Iterable[Mapping[str, Any]], online: int) -> str:
    """The lobby snapshot: every game with its open and live matches (payloads.lobby_games)."""
    return encode(LobbyFrame([LobbyGame(**game) for game in games], online))


def queued(game: str, window: float) -> str:
    """The lobby socket's answer to `queue`: in the queue, with the rating window for now."""
    return encode(QueuedFrame(game, round(window, 2)))


def unqueued(game: str, reason: str = "") -> str:
    """Out of the queue: on request (no reason), or refused by the server (the reason why)."""
    return encode(UnqueuedFrame(game, reason or None))


def matched(match_id: str, game: str, url: str) -> str:
    """A match was made for this player: its id and the page to play it on."""
    return encode(MatchedFrame(MatchLink(match_id, game, url)))


def rematch(
    match_id: str,
    status: Literal["waiting", "declined"],
    wants: Iterable[tuple[int, str]],
    declined: Iterable[tuple[int, str, RematchWhy]],
) -> str:
    """A finished match's rematch changed: who wants it, or who will not play it (and why).

    Sent on their lobby sockets to the match's other people; a rematch that starts is
    told with `matched` instead.
    """
    return encode(
        RematchFrame(
            match_id,
            status,
            [RematchPlayer(player_id, name) for player_id, name in wants],
            [RematchDecline(pid, name, why) for pid, name, why in declined],
        )
    )


def _seconds(value: float | None) -> float | None:
    """A duration for people's countdowns: tenths of a second are plenty."""
    return None if value is None else round(max(0.0, value), 1)


def _player_entries(entries: Iterable[Mapping[str, Any]]) -> list[PlayerEntry]:
    return [PlayerEntry(**entry) for entry in entries]


def _match_result(fields: Mapping[str, Any]) -> MatchResult:
    return MatchResult(
        status=fields["status"],
        summary=fields["summary"],
        rated=fields["rated"],
        seats=[ResultSeat(**seat) for seat in fields["seats"]],
    )


# Frame type -> its one builder (tests/test_protocol_schema.py checks they pair with SCHEMAS).
BUILDERS: dict[str, Callable[..., str | StateFrame]] = {
    "welcome": welcome,
    "players": players,
    "state": state,
    "result": result,
    "aborted": aborted,
    "chat": chat,
    "notice": notice,
    "pong": pong,
    "closing": closing,
    "error": error,
    "lobby": lobby,
    "queued": queued,
    "unqueued": unqueued,
    "matched": matched,
    "rematch": rematch,
}
