"""The bot seats of one live match: each tick, what the server's own players send.

The runner asks once per simulated tick, before it takes the tick's inputs, and
puts each answer where a player's input goes (its input buffer, with no
socket), so a bot's input is applied, refused and logged exactly as a
player's: a replay re-simulates the bot from the log without running it.

A turn-based game's bot thinks aside when given an executor (`thinking`): a
hard Connect Four move is tens of milliseconds of search, which on the event
loop would delay every match of the process. Each tick it is asked, in that
thread, about a copy of its seat's view; its answer is put in at the first tick
after it is ready, which only lengthens the bot's own "human" delay (the
runner checks it like any input). Real-time bots answer in microseconds, on
the spot.

A bot is built from the game's hook (`Game.bot`) the first time its seat
plays, from the match's seed and settings: it keeps no memory between ticks
(games.engine.bots), so a process that adopts the match builds it again and
it plays on as before. A bot that raises is skipped for that tick, logged
once per run of failures; the match goes on without its input.

Synchronous and I/O-free (the executor is handed in). Imports: the standard
library, the engine and this package's `roster` only.
"""

from __future__ import annotations

import copy
import logging
from concurrent.futures import Executor, Future
from typing import Any

from games.engine import bots
from games.engine.base import Game
from games.runtime.match.roster import Roster

logger = logging.getLogger(__name__)


class BotDriver:
    def __init__(
        self,
        game: Game[Any],
        settings: dict[str, Any],
        seed: int,
        thinking: Executor | None = None,
    ) -> None:
        self.game = game
        self.settings = settings
        self.seed = seed
        self.bots: dict[int, bots.Bot | None] = {}  # by seat; None: the game has no bots
        self.failing: set[int] = set()  # seats whose bot raised at its last decision
        self.thinking = thinking if game.turn_based else None
        self.thought: dict[int, Future[Any]] = {}  # by seat: a decision being made aside

    def inputs(self, state: Any, roster: Roster) -> list[tuple[int, Any]]:
        """This tick's inputs of the bot seats still in play, by seat (None answers left out)."""
        decided: list[tuple[int, Any]] = []
        for seat in sorted(roster.seats.values(), key=lambda s: s.seat):
            if seat.bot is None or seat.abandoned:
                continue
            bot = self._bot(seat.seat, seat.bot)
            if bot is None:
                continue
            data = self._decide(bot, state) if self.thinking is None else self._aside(bot, state)
            if data is not None:
                decided.append((seat.seat, data))
        return decided

    def _bot(self, seat: int, level: str) -> bots.Bot | None:
        if seat not in self.bots:
            try:
                self.bots[seat] = self.game.bot(level, seat, self.seed, self.settings)
            except bots.UnknownLevel:
                logger.error(
                    "seat %d: no %s bot at level %r; it sends nothing", seat, self.game.key, level
                )
                self.bots[seat] = None
        return self.bots[seat]

    def _aside(self, bot: bots.Bot, state: Any) -> Any | None:
        """The answer thought out aside since the last tick, if ready; then ask again."""
        assert self.thinking is not None
        future = self.thought.get(bot.seat)
        if future is not None:
            if not future.done():
                return None
            del self.thought[bot.seat]
            try:
                data = future.result()
                answer = None if data is None else self.game.parse_input(self.game.dump_input(data))
            except Exception:
                self._failed(bot)
                return None
            self.failing.discard(bot.seat)
            if answer is not None:
                return answer
        # A copy: the thread must not read the state the loop goes on changing.
        view = copy.deepcopy(self.game.view(state, bot.seat))
        self.thought[bot.seat] = self.thinking.submit(
            bot.decide, view, self.game.current_tick(state)
        )
        return None

    def _failed(self, bot: bots.Bot) -> None:
        if bot.seat not in self.failing:
            logger.exception("the %s bot of seat %d raised; skipped", self.game.key, bot.seat)
        self.failing.add(bot.seat)

    def _decide(self, bot: bots.Bot, state: Any) -> Any | None:
        try:
            data = bots.decide(self.game, bot, state)
        except Exception:
            if bot.seat not in self.failing:
                logger.exception("the %s bot of seat %d raised; skipped", self.game.key, bot.seat)
            self.failing.add(bot.seat)
            return None
        self.failing.discard(bot.seat)
        return data
