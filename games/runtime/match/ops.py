"""The operations a match runner takes, one declared type each.

Sockets build them; a runner of this process gets the object itself, one
elsewhere gets it over Redis as a plain dict (`to_wire`) tagged by `op`, which
its process turns back into the type (`from_wire`) before the runner sees it.
A misspelt field or kind is then a type error where the operation is built,
and a malformed message from another process is dropped at that boundary, with
a log line, never inside the runner.

Imports: msgspec, the standard library and `games.protocol`'s limits only (no
Django, asyncio or I/O).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec

from games import protocol

logger = logging.getLogger(__name__)


class _Op(msgspec.Struct, frozen=True, tag_field="op", forbid_unknown_fields=True):
    pass


class Join(_Op, tag="join", frozen=True):
    """A socket joins: as the player of `seat` (None: no seat, a spectator)."""

    player_id: int
    channel: str
    seat: int | None = None
    name: str = ""
    subprotocol: str | None = None


class Leave(_Op, tag="leave", frozen=True):
    """The socket is gone."""

    player_id: int
    channel: str


class Ready(_Op, tag="ready", frozen=True):
    """The player of this socket is ready to start."""

    player_id: int
    channel: str


class Input(_Op, tag="input", frozen=True):
    """One input of the player of this socket, and the newest state tick its client
    acknowledged. `data` is the game's parsed Input from a socket of this process; over
    Redis it is what `dump_input` writes (`to_wire`), and the runner parses it again."""

    player_id: int
    channel: str
    data: Any
    ack: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None


class Resync(_Op, tag="resync", frozen=True):
    """The client asks for a full state (a fresh welcome)."""

    player_id: int
    channel: str


class Chat(_Op, tag="chat", frozen=True):
    """A chat line, stripped and checked by the socket; the runner tells everyone."""

    player_id: int
    channel: str
    name: str
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=protocol.MAX_CHAT_CHARS)]


class Aborted(_Op, tag="aborted", frozen=True):
    """A service aborted the match (an operator): the runner stops."""


Operation = Join | Leave | Ready | Input | Resync | Chat | Aborted


def to_wire(op: Operation) -> dict[str, Any]:
    """The operation as a plain dict for the channel layer or pub/sub (msgpack)."""
    wire: dict[str, Any] = msgspec.to_builtins(op)
    return wire


def from_wire(message: object, *, source: str = "another process") -> Operation | None:
    """The operation in a message from Redis; None, logged, for anything malformed."""
    try:
        op: Operation = msgspec.convert(message, Operation)
    except msgspec.ValidationError as exc:
        logger.warning("dropped a malformed operation from %s (%s): %.200r", source, exc, message)
        return None
    return op
