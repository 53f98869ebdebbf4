"""A tiny game with hidden information, for testing per-seat views: each seat holds a
secret number only it may see; the match ends after `ticks` ticks as a draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Annotated, Any

import msgspec

from games.engine.base import JSON, Event, Game, Outcome, SeatOutcome


class SecretInput(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A guess at the other seat's secret (the game ignores it: it only has to be valid)."""

    guess: Annotated[int, msgspec.Meta(ge=1000, le=9999)] | None = None


@dataclass
class SecretState:
    secrets: list[int]
    length: int
    tick: int = 0
    removed: set[int] = field(default_factory=set)


class SecretGame(Game[SecretState]):
    key = "secret"
    title = "Secret"
    description = "Test game with hidden information."
    min_players = 2
    max_players = 2
    tick_rate = 20
    hidden_information = True
    state_class = SecretState
    Input = SecretInput

    def defaults(self) -> JSON:
        return {"ticks": 40}

    def initial_state(self, settings: JSON, seats: int, seed: int) -> SecretState:
        rng = Random(seed)
        return SecretState([rng.randrange(1000, 10_000) for _ in range(seats)], settings["ticks"])

    def apply_input(self, state: SecretState, seat: int, data: SecretInput) -> list[Event]:
        return []

    def tick(self, state: SecretState) -> list[Event]:
        state.tick += 1
        return []

    def remove_seat(self, state: SecretState, seat: int) -> list[Event]:
        state.removed.add(seat)
        return []

    def outcome(self, state: SecretState) -> Outcome | None:
        if state.tick < state.length:
            return None
        return Outcome(tuple(SeatOutcome(s, "draw", 0, 1) for s in range(2)), "Draw.")

    def view(self, state: SecretState, seat: int | None) -> JSON:
        mine = state.secrets[seat] if seat is not None else None
        return {"tick": state.tick, "mine": mine, "seats": len(state.secrets)}

    def current_tick(self, state: SecretState) -> int:
        return state.tick


class BrokenGame(SecretGame):
    """The secret game with faults on demand: an input with guess 1111 raises, and a
    guess of 9000 + n makes the next n ticks raise."""

    key = "broken"

    def apply_input(self, state: SecretState, seat: int, data: Any) -> list[Event]:
        if data.guess == 1111:
            raise ZeroDivisionError("a bug in the rules")
        if data.guess is not None and data.guess > 9000:
            state.secrets[0] = 9000 - data.guess  # ticks still to fail, negated
        return []

    def tick(self, state: SecretState) -> list[Event]:
        if state.secrets[0] < 0:
            state.secrets[0] += 1
            raise KeyError("a bug in the simulation")
        return super().tick(state)
