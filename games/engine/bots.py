"""Computer players: the interface a game's bots implement, and the loop that plays them.

A bot is a seat the server drives itself. It sees what a player of that seat
sees (the game's `view` for the seat, never the state), and answers at most one
input per tick, of the game's `Input` type, or None for no input this tick. Its
inputs are applied and logged like a player's, so a replay re-simulates a bot
from the match's seed and input log without running the bot again.

Determinism rule: a bot's decision is a function of its level, seat, the match
seed and settings, and the views it was shown. Randomness comes only from
`rng(seed, seat, ...)`, never from the `random` module's global generator or the
clock, and the bots of our games keep no memory between ticks: a process that
adopts a match after a failover builds the bots again and they play on exactly
as they would have. Time is counted in ticks: a "human-looking" delay is the
bot answering None until its chosen tick.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from games.engine.base import JSON, EngineError, Game, IllegalInput

Level = Literal["easy", "normal", "hard"]
LEVELS: tuple[Level, ...] = ("easy", "normal", "hard")


class UnknownLevel(EngineError):
    """No bot level of that name (the levels are `LEVELS`)."""

    code = "unknown_bot_level"


class Bot(Protocol):
    """One computer player, for one seat of one match."""

    @property
    def seat(self) -> int:
        """The seat it plays."""
        ...

    @property
    def level(self) -> Level:
        """How well it plays."""
        ...

    def decide(self, view: JSON, tick: int) -> Any | None:
        """This tick's input (an instance of the game's `Input`) given the seat's `view`, or None.

        Called once per simulated tick, before the tick's inputs are applied; an
        input it returns is applied in that same step. Must be cheap on ticks it
        has nothing to do, and bounded (not by wall time: by work) when it thinks.
        """
        ...


def check_level(level: str) -> Level:
    """`level` as a Level; raises UnknownLevel for anything else."""
    if level not in LEVELS:
        raise UnknownLevel(f"Unknown bot level {level!r}; levels: {', '.join(LEVELS)}.")
    return level


def rng(seed: int, seat: int, *salt: int | str) -> random.Random:
    """A generator seeded from the match seed, the seat and `salt` (a move number, a tick...).

    Seeding with text hashes it (SHA-512), the same on every machine and Python
    run, unlike `hash()` of a str; deriving one generator per decision keeps a bot
    free of memory.
    """
    return random.Random(":".join(str(part) for part in ("bot", seed, seat, *salt)))


def decide(game: Game[Any], bot: Bot, state: Any) -> Any | None:
    """The bot's input for this tick, given only its seat's view, checked like a player's.

    The input goes through the game's schema (`dump_input` then `parse_input`),
    so a bot bug surfaces as InvalidInput here, not as a strange state later.
    """
    data = bot.decide(game.view(state, bot.seat), game.current_tick(state))
    if data is None:
        return None
    return game.parse_input(game.dump_input(data))


@dataclass
class Played:
    """A match simulated by `simulate`: its final state, its input log as the runner keeps it
    (`[tick, seat, input]`, replayable by `games.engine.replay`) and the inputs refused."""

    state: Any
    log: list[list[Any]] = field(default_factory=list)
    refused: list[tuple[int, int, str]] = field(default_factory=list)  # tick, seat, code


def simulate(
    game: Game[Any],
    settings: JSON,
    seats: int,
    seed: int,
    bots: Mapping[int, Bot],
    *,
    max_ticks: int,
) -> Played:
    """Play a match in the engine with `bots` at their seats, in the runner's order.

    Each tick: every bot decides (seat order), its input is applied and logged,
    then the game ticks. Seats without a bot send nothing. Stops at the outcome or
    after `max_ticks`.
    """
    played = Played(game.initial_state(settings, seats, seed))
    state = played.state
    while game.outcome(state) is None and game.current_tick(state) < max_ticks:
        tick = game.current_tick(state)
        for seat, bot in sorted(bots.items()):
            data = decide(game, bot, state)
            if data is None:
                continue
            try:
                game.apply_input(state, seat, data)
            except IllegalInput as refused:
                played.refused.append((tick, seat, refused.code))
                continue
            played.log.append([tick, seat, game.dump_input(data)])
        if game.outcome(state) is None:
            game.tick(state)
    return played
