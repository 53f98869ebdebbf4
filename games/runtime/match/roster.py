"""The seats of one live match: who holds which, on which socket, since when gone.

Bot seats (a level in `Seat.bot`) have no socket: they count as connected and
ready from the start, are never given up or abandoned, and get no states (the
runner's bot driver reads the engine's view for them).

Synchronous and I/O-free: the runner hands it operations and the time, and
sends what it answers (a superseded socket to close, a seat to give up). Also
the spectators' sockets and the encoding (subprotocol) of every known socket.

Imports: the standard library, `games.protocol`'s subprotocol names and this
package's `ops` and `ports` only (no asyncio, Django or I/O).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from games import protocol
from games.runtime.match.ops import Join
from games.runtime.match.ports import SeatRow


@dataclass
class Seat:
    """A seated player as the runner sees them."""

    seat: int
    player_id: int
    name: str
    channel: str | None = None  # the socket that plays this seat now; None: gone
    ready: bool = False
    disconnected_at: float | None = None
    abandoned: bool = False
    acked: int | None = None  # the newest state tick its client acknowledged
    bot: str | None = None  # a bot's level: the runner plays the seat, with no socket

    @property
    def connected(self) -> bool:
        """A socket plays the seat, or the runner does (a bot)."""
        return self.channel is not None or self.bot is not None

    @property
    def away(self) -> bool:
        """Its player's socket is gone and the seat is still in play (grace may run)."""
        return not self.connected and not self.abandoned

    def json(self, grace_left: float | None = None) -> dict[str, Any]:
        return {
            "seat": self.seat,
            "player_id": self.player_id,
            "name": self.name,
            "connected": self.connected,
            "ready": self.ready,
            "abandoned": self.abandoned,
            "bot": self.bot is not None,
            "grace_left": grace_left,
        }

    def grace_left(self, now: float, grace: float) -> float | None:
        """Seconds this seat's player has left to come back; None if not away (or a bot)."""
        if not self.away or self.disconnected_at is None:
            return None
        return max(0.0, grace - (now - self.disconnected_at))


def _seat(row: SeatRow) -> Seat:
    """A seat as the database has it; a bot's is ready at once."""
    return Seat(row.seat, row.player_id, row.name, ready=row.bot is not None, bot=row.bot)


@dataclass(frozen=True)
class Joined:
    """What a join changed: the seat (None: a spectator), and the socket it replaced."""

    seat: Seat | None
    superseded: str | None = None  # the seat's previous socket, to close (4010)


class Roster:
    def __init__(self, rows: Iterable[SeatRow] = ()) -> None:
        self.seats: dict[int, Seat] = {r.player_id: _seat(r) for r in rows}
        self.spectators: set[str] = set()
        # Each known socket's subprotocol: states are encoded only in the ones in use.
        self.encodings: dict[str, str] = {}
        self._channels: list[str] | None = None  # every known socket, until one changes

    def get(self, player_id: int) -> Seat | None:
        return self.seats.get(player_id)

    # --- Sockets come and go ---------------------------------------------------------------

    def join(self, op: Join, *, waiting: bool) -> Joined:
        """A socket joins. A seat's second socket replaces its first, which is returned
        to be closed; a player seated through the lobby after the runner loaded the
        match takes their seat while the match waits; anyone else watches."""
        self._channels = None
        self.encodings[op.channel] = op.subprotocol or protocol.SUBPROTOCOL_JSON
        seat = self.seats.get(op.player_id)
        if seat is not None and seat.bot is not None:
            seat = None  # nobody plays a bot's seat from a socket: they watch
        elif seat is None and waiting and op.seat is not None:
            # A person seated through the lobby since the runner loaded the match; in a
            # queue's match with bots, they may have taken a bot's seat (services.bots).
            self._drop_bot_at(op.seat)
            seat = Seat(op.seat, op.player_id, op.name)
            self.seats[op.player_id] = seat
        if seat is None:
            self.spectators.add(op.channel)
            return Joined(None)
        superseded = seat.channel if seat.channel and seat.channel != op.channel else None
        seat.channel, seat.disconnected_at, seat.acked = op.channel, None, None
        return Joined(seat, superseded)

    def _drop_bot_at(self, number: int) -> None:
        for player_id, seat in list(self.seats.items()):
            if seat.seat == number and seat.bot is not None:
                del self.seats[player_id]

    def leave(self, player_id: int, channel: str, now: float) -> Seat | None:
        """The socket is gone. The seat it played, now without a socket; None for a
        spectator, or a socket that was already superseded (its seat plays on)."""
        self._channels = None
        self.spectators.discard(channel)
        self.encodings.pop(channel, None)
        seat = self.seats.get(player_id)
        if seat is None or seat.channel != channel:
            return None
        seat.channel, seat.ready, seat.disconnected_at = None, False, now
        return seat

    def mark_ready(self, player_id: int) -> bool:
        """True if the player's seat became ready now."""
        seat = self.seats.get(player_id)
        if seat is None or seat.ready:
            return False
        seat.ready = True
        return True

    # --- Before the start -------------------------------------------------------------------

    def ready_players(self) -> frozenset[int]:
        """Players who are ready and connected (bots always are). None while no person
        is: bots alone never start a match (its people left before the start)."""
        ready = [s for s in self.seats.values() if s.ready and (s.channel or s.bot)]
        if all(s.bot for s in ready):
            return frozenset()
        return frozenset(s.player_id for s in ready)

    def give_up(self, now: float, after: float) -> list[Seat]:
        """Remove and return the seats whose player has been gone for `after` seconds."""
        gone = [
            seat
            for seat in self.seats.values()
            if seat.channel is None
            and seat.disconnected_at is not None
            and now - seat.disconnected_at >= after
        ]
        for seat in gone:
            del self.seats[seat.player_id]
        return gone

    def begin(self, rows: Iterable[SeatRow]) -> None:
        """The seats the match started with (as the database has them); sockets stay."""
        previous, self.seats = self.seats, {}
        for row in rows:
            old = previous.get(row.player_id)
            seat = _seat(row)
            if old is not None and seat.bot is None:
                seat.channel, seat.ready = old.channel, old.ready
            self.seats[row.player_id] = seat
        self._channels = None

    # --- While it runs ----------------------------------------------------------------------

    def expired(self, now: float, grace: float) -> list[Seat]:
        """Seats in play whose player has been gone longer than the grace period."""
        return [
            seat
            for seat in self.seats.values()
            if not seat.abandoned
            and seat.channel is None
            and seat.disconnected_at is not None
            and now - seat.disconnected_at >= grace
        ]

    def acked_ticks(self) -> set[int]:
        """The state ticks the seats' clients acknowledged: the bases for deltas."""
        return {s.acked for s in self.seats.values() if s.acked is not None}

    # --- Checkpoints ------------------------------------------------------------------------

    def saved(self) -> list[dict[str, Any]]:
        """The seats as a checkpoint keeps them."""
        return [
            {
                "seat": s.seat,
                "player_id": s.player_id,
                "name": s.name,
                "abandoned": s.abandoned,
                "bot": s.bot,
            }
            for s in self.seats.values()
        ]

    def restore(self, saved: list[dict[str, Any]], now: float) -> None:
        """The seats of a checkpoint: every player starts the grace period now (bots play on)."""
        self.seats = {}
        for s in saved:
            bot = s.get("bot")  # checkpoints from before bots have no such key
            self.seats[s["player_id"]] = Seat(
                s["seat"],
                s["player_id"],
                s["name"],
                ready=bot is not None,
                disconnected_at=None if bot else now,
                abandoned=s["abandoned"],
                bot=bot,
            )
        self._channels = None

    # --- Who is there -----------------------------------------------------------------------

    def channels(self) -> list[str]:
        """Every socket the runner knows: connected players, then spectators.

        Kept between changes: the state of every tick goes to this list.
        """
        if self._channels is None:
            seated = [s.channel for s in self.seats.values() if s.channel]
            self._channels = seated + list(self.spectators)
        return self._channels

    def anyone_connected(self) -> bool:
        return bool(self.spectators) or self.any_seat_connected()

    def any_seat_connected(self) -> bool:
        return any(s.channel for s in self.seats.values())

    def players(self, now: float = 0.0, grace: float | None = None) -> list[dict[str, Any]]:
        """The `players` of the welcome and players frames, by seat. With `grace` (while
        the match runs), each seat that waits out its grace period says how long it has
        left at `now`."""
        return [
            s.json(None if grace is None else s.grace_left(now, grace))
            for s in sorted(self.seats.values(), key=lambda s: s.seat)
        ]
