"""When a live match is checkpointed, and what a checkpoint holds.

A checkpoint is due at least once a second of ticks, after every move of a
turn-based game (a move a player saw must survive the death of the process),
and whenever the runner forces one (a hand-over, a lease taken again). It holds
the whole state, the seats, and the part of the input log not stored yet; the
runner stores it (games.cluster.checkpoints, fenced by the lease) and reports
back whether that worked.

Synchronous and I/O-free. Imports: the standard library, the engine's types
and this package's `roster` only.
"""

from __future__ import annotations

from typing import Any

from games.engine.base import Game
from games.runtime.match.roster import Roster


class Checkpointer:
    def __init__(self, game: Game[Any], tick_rate: int) -> None:
        self.game = game
        self.tick_rate = tick_rate
        self.last_tick = 0  # the tick of the last checkpoint stored (or given up on)
        self.saved_log = 0  # entries of the input log already stored
        self.failing = False  # the last one could not be stored (Redis unreachable)

    def continue_from(self, tick: int, log_length: int) -> None:
        """The match was adopted from a checkpoint of `tick` holding this much log."""
        self.last_tick, self.saved_log = tick, log_length

    def due(self, tick: int, moved: bool) -> bool:
        """A second of ticks since the last one, or a move of a turn-based game."""
        return tick - self.last_tick >= self.tick_rate or (self.game.turn_based and moved)

    def force(self) -> None:
        """The next look finds a checkpoint due, whatever the tick."""
        self.last_tick = -self.tick_rate

    def log_lost(self) -> None:
        """The stored log is gone (Redis lost its data): the next checkpoint carries it whole."""
        self.saved_log = 0

    def payload(self, state: Any, roster: Roster) -> dict[str, Any]:
        return {
            "tick": self.game.current_tick(state),
            "state": self.game.checkpoint(state),
            "slots": roster.saved(),  # (the key checkpoints in Redis have always had)
        }

    def new_log(self, log: list[list[Any]]) -> list[list[Any]]:
        """The entries of `log` the stored checkpoints do not hold yet."""
        return log[self.saved_log :]

    def stored(self, tick: int, log_length: int) -> bool:
        """The checkpoint of `tick` is stored. True if the previous one was not."""
        recovered, self.failing = self.failing, False
        self.last_tick, self.saved_log = tick, log_length
        return recovered

    def not_stored(self, tick: int) -> bool:
        """It could not be stored: the next, a second later, carries the log since the last
        one stored. True if that is news (the previous one was stored)."""
        news, self.failing = not self.failing, True
        self.last_tick = tick
        return news
