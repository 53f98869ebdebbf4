"""The WebSocket protocol (match and lobby sockets): schemas, builders, error and close codes.

One module for everything that crosses the wire, so docs/protocol.md has one
source. Inbound frames are decoded and validated by msgspec in one step;
outbound frames are built here and encoded once, then forwarded as bytes.
"""

from __future__ import annotations

import time
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


class CloseCode:
    """Close codes sent after accept(); daphne can send only 1000 and 3000-4999.

    Clients must not reconnect after 4001, 4003, 4004, 4010, 4404 and 4426; after
    the others they reconnect with backoff.
    """

    NORMAL = 1000
    NOT_AUTHENTICATED = 4001  # no session and no valid ticket
    FORBIDDEN = 4003  # banned, or not allowed to watch this match
    UNKNOWN_MATCH = 4004  # no such match
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
    # The lobby socket's matchmaking; the same codes as the service errors behind them.
    NOT_AUTHENTICATED = "not_authenticated"  # anonymous: play as a guest or log in first
    PLAYER_BANNED = "player_banned"  # banned players cannot queue
    INVALID_REQUEST = "invalid_request"  # an unknown game
    MATCHING = "matching"  # a match is being made for you: it cannot be cancelled now
    IN_MATCH = "in_match"  # seated in a match in progress; `match` names it, to rejoin
    NOT_QUEUED = "not_queued"  # unqueue while not in a queue


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

_encoder = msgspec.json.Encoder()
_binary_encoder = msgspec.msgpack.Encoder()


def encode(message: dict[str, Any]) -> str:
    return _encoder.encode(message).decode()


def encode_binary(message: dict[str, Any]) -> bytes:
    """The msgpack variant, sent as a binary frame to clients of arcade.v1.msgpack."""
    return _binary_encoder.encode(message)


def server_time_ms() -> float:
    return round(time.time() * 1000.0, 1)


def error(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})


def pong(ping: Ping) -> str:
    return encode({"type": "pong", "id": ping.id, "t": ping.t, "server_time": server_time_ms()})


def queued(game: str, window: float) -> str:
    """The lobby socket's answer to `queue`: in the queue, with the rating window for now."""
    return encode({"type": "queued", "game": game, "window": round(window, 2)})


def unqueued(game: str, reason: str = "") -> str:
    """Out of the queue: on request (no reason), or refused by the server (the reason why)."""
    return encode({"type": "unqueued", "game": game, "reason": reason or None})


def matched(match_id: str, game: str, url: str) -> str:
    """A match was made for this player: its id and the page to play it on."""
    return encode({"type": "matched", "match": {"id": match_id, "game": game, "url": url}})


def in_match(message: str, match_id: str, game: str, url: str) -> str:
    """The lobby socket's refusal to queue a player seated in a match in progress.

    An error frame that names the match as `matched` does, so a client can offer to rejoin it.
    """
    match = {"id": match_id, "game": game, "url": url}
    return encode({"type": "error", "code": ErrorCode.IN_MATCH, "message": message, "match": match})


Role = Literal["player", "spectator"]
