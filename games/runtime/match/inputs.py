"""Inputs waiting for their tick, per seat: the server's input buffer.

Real-time games (`Game.turn_based` False) get a queue per seat, applied one
input per tick in the order sent, as the client predicted them: inputs that
arrive bunched by network jitter wait for the next ticks instead of replacing
each other. Keeping one input in reserve absorbs the next late one; the queue
grows to that depth by itself (the first time the network starves it) and no
further: a backlog above TARGET_DEPTH that persists for DRAIN_AFTER_TICKS ticks
is drained, the oldest two inputs merged into one (the game's `merge_inputs`;
without one the oldest is dropped) once per tick until it is back at the
target, and a queue never holds more than MAX_DEPTH. So the delay an input
waits stays about a tick and never grows. An empty queue applies nothing: the
game's controls persist, and its state says the last ones were repeated (the
arena's inputs of `ticks` of movement, the browser's, persist nothing: the ship
holds still for that tick, and a merge keeps the movement of both inputs, so
where a ship ends depends on the inputs applied and not on the ticks they met).

Turn-based games keep the newest input of a seat within a tick, as a move is a
move, not a share of movement.

Synchronous and I/O-free; imports the standard library only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

# Inputs kept in reserve after a tick took its one: a late input within a tick is absorbed.
TARGET_DEPTH = 1
# A backlog above the target for this many ticks in a row is drained (half a second at 20 Hz):
# long enough that a burst from one jitter spike is played out as sent, not merged.
DRAIN_AFTER_TICKS = 10
# The most inputs a seat's queue holds (a client sending faster than the tick rate, or a
# stall of the socket): the oldest two merge as soon as another arrives.
MAX_DEPTH = 8

# (seat, the game's input, the channel it came from; None for the server's own)
Applied = tuple[int, Any, str | None]
Merge = Callable[[Any, Any], Any | None]


class _Queue:
    __slots__ = ("items", "over")

    def __init__(self) -> None:
        self.items: deque[tuple[Any, str | None]] = deque()
        self.over = 0  # ticks in a row that ended with more than TARGET_DEPTH waiting


class InputBuffer:
    """The inputs of every seat of one match, until the ticks that apply them."""

    def __init__(self, queued: bool, merge: Merge) -> None:
        self.queued = queued
        self.merge = merge
        self.queues: dict[int, _Queue] = {}  # only seats with inputs waiting
        self.merged = 0  # inputs merged into others (or dropped) since `take_merged`

    def __bool__(self) -> bool:
        return bool(self.queues)

    def depth(self, seat: int) -> int:
        """Inputs of `seat` waiting."""
        queue = self.queues.get(seat)
        return len(queue.items) if queue else 0

    def put(self, seat: int, data: Any, channel: str | None) -> None:
        """An input of `seat`, for the next tick it is due at."""
        queue = self.queues.get(seat)
        if queue is None:
            queue = self.queues[seat] = _Queue()
        elif not self.queued:
            queue.items.clear()  # the newest of a tick wins
        elif len(queue.items) >= MAX_DEPTH:
            self._merge_oldest(queue)
        queue.items.append((data, channel))

    def replace(self, seat: int, data: Any, channel: str | None) -> None:
        """`data` is the seat's next input and the only one: what waited is forgotten."""
        self.queues.pop(seat, None)
        self.put(seat, data, channel)

    def clear(self) -> None:
        self.queues.clear()

    def take(self) -> list[Applied]:
        """This tick's inputs: the oldest of every seat that has one, by seat."""
        taken: list[Applied] = []
        for seat in sorted(self.queues):
            queue = self.queues[seat]
            data, channel = queue.items.popleft()
            taken.append((seat, data, channel))
            self._drain(seat, queue)
        return taken

    def take_merged(self) -> int:
        """Inputs merged (or dropped) since the last call."""
        merged, self.merged = self.merged, 0
        return merged

    def _drain(self, seat: int, queue: _Queue) -> None:
        left = len(queue.items)
        if not left:
            del self.queues[seat]
            return
        if left <= TARGET_DEPTH:
            queue.over = 0
            return
        queue.over += 1
        if queue.over >= DRAIN_AFTER_TICKS:
            self._merge_oldest(queue)  # once a tick, until the target is reached

    def _merge_oldest(self, queue: _Queue) -> None:
        older, _ = queue.items.popleft()
        newer, channel = queue.items[0]
        merged = self.merge(older, newer)
        if merged is not None:
            queue.items[0] = (merged, channel)
        self.merged += 1
