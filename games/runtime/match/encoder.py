"""A tick's state, encoded once per audience and per encoding in use.

The audiences: everyone at once when the game hides nothing, otherwise each
seat's one socket and the spectators together. The encodings: JSON text, the
game's compact binary frames (a full frame, plus one delta per distinct base a
client acknowledged, from the history of compact snapshots kept here), and
msgpack. Each consumer picks the variant its socket speaks.

Synchronous and I/O-free. Imports: the standard library, `games.protocol`'s
encoders, the engine's types and this package's `roster` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from games import protocol
from games.engine.base import Event, Game
from games.runtime.match.roster import Roster

# Compact states kept as bases for deltas: a client acknowledging an older one gets full states.
DELTA_HISTORY_TICKS = 64

# What one audience is sent: its sockets, and the state's fields in each encoding.
Delivery = tuple[Iterable[str], dict[str, Any]]


class StateEncoder:
    def __init__(self, game: Game[Any], tick_rate: int) -> None:
        self.game = game
        self.tick_rate = tick_rate
        self.last_tick = -1  # the tick of the last state encoded
        self.history: dict[int, Any] = {}  # tick -> the game's compact snapshot
        self._compact = game.compact is not None and not game.hidden_information

    def due_for_heartbeat(self, tick: int) -> bool:
        """True when a second passed without a state: turn-based games send one anyway."""
        return tick - self.last_tick >= self.tick_rate

    def encode(self, state: Any, events: list[Event], roster: Roster) -> list[Delivery]:
        """The state of this tick for every audience of `roster`."""
        tick = self.game.current_tick(state)
        previous, self.last_tick = self.last_tick, tick
        event_list = [{"kind": e.kind, **e.data} for e in events]

        def variants(seat: int | None, channels: Iterable[str]) -> dict[str, Any]:
            view = self.game.view(state, seat)
            return self._variants(view, channels, tick, event_list, previous, roster)

        if not self.game.hidden_information:
            channels = roster.channels()
            return [(channels, variants(None, channels))]  # once for everyone
        # One encoding per seat, sent to that seat's one socket; spectators share theirs.
        deliveries: list[Delivery] = []
        for seat in roster.seats.values():
            if seat.channel:
                one = [seat.channel]
                deliveries.append((one, variants(seat.seat, one)))
        if roster.spectators:
            deliveries.append((roster.spectators, variants(None, roster.spectators)))
        return deliveries

    def _variants(
        self,
        view: dict[str, Any],
        channels: Iterable[str],
        tick: int,
        events: list[Any],
        previous: int,
        roster: Roster,
    ) -> dict[str, Any]:
        encodings = roster.encodings
        needs = {encodings.get(c, protocol.SUBPROTOCOL_JSON) for c in channels}
        frame = protocol.state(tick, view, events)
        fields: dict[str, Any] = {"tick": tick}
        if protocol.SUBPROTOCOL_JSON in needs:
            fields["text"] = protocol.encode(frame)
        binary = needs - {protocol.SUBPROTOCOL_JSON}
        if protocol.SUBPROTOCOL_COMPACT in binary and self._compact:
            fields.update(self._compact_frames(tick, view, events, previous, roster.acked_ticks()))
            binary.discard(protocol.SUBPROTOCOL_COMPACT)
        if binary:  # msgpack, which compact sockets also get in games without compact states
            fields["bytes"] = protocol.encode_binary(frame)
        return fields

    def _compact_frames(
        self, tick: int, view: dict[str, Any], events: list[Any], previous: int, acked: set[int]
    ) -> dict[str, Any]:
        """The compact full frame, and deltas from the states the clients acknowledged.

        One delta per distinct base, not per socket: the bases are the seats'
        acknowledged ticks and the previous state (where a client on a fast link is).
        """
        codec = self.game.compact
        assert codec is not None
        snapshot = codec.snapshot(view)
        acked.add(previous)
        deltas = []
        for base in sorted(acked):
            if base in self.history:
                with contextlib.suppress(ValueError):  # too old for a delta: full frames then
                    deltas.append([base, codec.encode(snapshot, events, self.history[base])])
        self.history[tick] = snapshot
        while len(self.history) > DELTA_HISTORY_TICKS:
            del self.history[next(iter(self.history))]
        return {"compact": codec.encode(snapshot, events), "deltas": deltas}
