"""The interface every game implements, and the engine's value types.

Pure: no Django, no Channels, no asyncio, no wall clock. Time is counted in
ticks and randomness comes from the seed kept in the state, so the same seed
and the same inputs at the same ticks always give the same states (that is
what makes replays work).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

import msgspec

from games.engine import inputs, snapshot

if TYPE_CHECKING:  # bots builds on this module
    from games.engine.bots import Bot

JSON = dict[str, Any]
Result = Literal["win", "loss", "draw"]


class EngineError(Exception):
    """Base of the errors a game raises; `code` is stable, `reason` is for people."""

    code = "engine_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IllegalInput(EngineError):
    """The input is well-formed but the rules refuse it now (wrong turn, full column...)."""

    code = "illegal_input"

    def __init__(self, reason: str, code: str = "illegal_input") -> None:
        super().__init__(reason)
        self.code = code


class InvalidInput(EngineError):
    """The input does not fit the game's declared schema; `field` names the first bad field."""

    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


class InvalidSettings(EngineError):
    """A match setting is unknown or out of its allowed range."""

    code = "invalid_settings"


@dataclass(frozen=True)
class Event:
    """Something players should hear about besides the state (a goal, a turn, a win)."""

    kind: str
    data: JSON


@dataclass(frozen=True)
class SeatOutcome:
    """How one seat finished: its result, final score and placement (1 is best)."""

    seat: int
    result: Result
    score: int
    rank: int


@dataclass(frozen=True)
class Outcome:
    """The end of a match: one entry per seat and a one-line summary for people."""

    seats: tuple[SeatOutcome, ...]
    summary: str


StateT = TypeVar("StateT")


class CompactStates(Protocol):
    """A game's compact binary state frames: full, or a delta from an acknowledged state.

    `snapshot` quantizes a view into what both ends keep; `encode` makes a full
    frame, or with `base` a delta frame against that earlier snapshot (raising
    ValueError if it cannot). The browser decodes them with the game's mirror.
    """

    def snapshot(self, view: JSON) -> Any: ...
    def encode(self, state: Any, events: list[JSON], base: Any | None = None) -> bytes: ...


class Game(ABC, Generic[StateT]):
    """Rules of one game. Instances are stateless; all match data lives in the state."""

    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    min_players: ClassVar[int]
    max_players: ClassVar[int]
    #: Simulation steps per second. Turn-based games tick too: it is their clock.
    tick_rate: ClassVar[int]
    #: Seconds a disconnected player keeps their seat before the abandonment rule applies.
    reconnect_grace_seconds: ClassVar[float] = 30.0
    #: Seconds of "3, 2, 1, GO" between the start and the first tick: the server holds the
    #: game meanwhile (no input applied), so nobody moves first. 0: none.
    countdown_seconds: ClassVar[float] = 0.0
    #: True if `view` differs by seat: the server then encodes one view per seat per tick.
    hidden_information: ClassVar[bool] = False
    #: Turn-based games change only on moves; the server checkpoints them after every move.
    turn_based: ClassVar[bool] = False
    #: The state's dataclass, for restoring checkpoints.
    state_class: ClassVar[type[Any]]
    #: Compact binary state frames with deltas (arcade.v1.compact); None: msgpack states.
    compact: ClassVar[CompactStates | None] = None
    #: The schema of one input: a msgspec.Struct declared with forbid_unknown_fields=True
    #: whose numbers, strings and lists are all bounded (checked when the class is defined).
    Input: ClassVar[type[msgspec.Struct]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        schema = cls.__dict__.get("Input")
        if schema is not None:
            inputs.check_schema(cls.__name__, schema)

    def parse_input(self, raw: object) -> Any:
        """The input `raw` (decoded JSON, or msgspec.Raw JSON text) as an `Input` to apply.

        Raises InvalidInput naming the first field that is unknown, missing, of the
        wrong type or out of bounds. Nothing else of `raw` survives: only the
        declared fields are applied, logged and checkpointed.
        """
        try:
            if isinstance(raw, msgspec.Raw):  # JSON text, straight from a socket's frame
                return msgspec.json.decode(raw, type=self.Input)
            return msgspec.convert(raw, self.Input)
        except msgspec.ValidationError as exc:
            field, why = inputs.field_of(exc)
            raise InvalidInput(field, f"Invalid input field `{field}`: {why}.") from None

    def dump_input(self, data: Any) -> JSON:
        """A parsed input as JSON-ready data, as the runner logs it; `parse_input` reads it back."""
        dumped: JSON = msgspec.to_builtins(data)
        return dumped

    def settings(self, raw: Mapping[str, Any]) -> JSON:
        """Return complete settings: `raw` checked against `defaults()` and filled in.

        Raises InvalidSettings naming the first bad key.
        """
        defaults = self.defaults()
        unknown = sorted(set(raw) - set(defaults))
        if unknown:
            raise InvalidSettings(f"Unknown setting {unknown[0]!r} for {self.title}.")
        merged = {**defaults, **raw}
        for name, (low, high) in self.setting_ranges().items():
            value = merged[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidSettings(
                    f"Setting {name!r} must be a whole number from {low} to {high}."
                )
        return merged

    @abstractmethod
    def defaults(self) -> JSON:
        """Default value of every setting the game understands."""

    def setting_ranges(self) -> dict[str, tuple[int, int]]:
        """Inclusive bounds of the integer settings; settings not listed are free-form."""
        return {}

    @abstractmethod
    def initial_state(self, settings: JSON, seats: int, seed: int) -> StateT:
        """Create the state at tick 0 for `seats` players numbered 0..seats-1."""

    @abstractmethod
    def apply_input(self, state: StateT, seat: int, data: Any) -> list[Event]:
        """Apply one input of `seat` (an `Input` from `parse_input`); IllegalInput refuses it.

        Check the rules before changing the state: a refused (or failing) input is
        dropped, and must leave the state as it was.
        """

    @abstractmethod
    def tick(self, state: StateT) -> list[Event]:
        """Advance the simulation by one tick."""

    @abstractmethod
    def remove_seat(self, state: StateT, seat: int) -> list[Event]:
        """Apply the abandonment rule to a seat whose player left for good."""

    def neutral_input(self, state: StateT, seat: int) -> Any | None:
        """The input that holds `seat` still while its player's socket is gone, or None.

        The server applies it (and logs it, like any input) when the socket drops,
        so that controls which persist until the next input do not play on without
        the player. None, the default, applies nothing: right for games where
        nothing happens without a move.
        """
        return None

    def merge_inputs(self, older: Any, newer: Any) -> Any | None:
        """One input standing for `older` then `newer` in a single tick, or None: drop `older`.

        A real-time game's server applies one input of a seat per tick; when a
        seat's inputs pile up it merges the oldest two (docs/client.md, "The
        server's input buffer"). The result is applied and logged like any
        input, so it must fit the schema and carry `newer`'s sequence number.
        """
        return None

    def clamp_input(self, data: Any, max_lag_ms: int) -> Any:
        """`data` with the lag it claims (for lag-compensated hits) at most `max_lag_ms`.

        The server's bound is a setting, so it is applied before the input is
        logged: a replay sees the clamped input and needs no setting.
        """
        return data

    def bot(self, level: str, seat: int, seed: int, settings: JSON) -> Bot | None:
        """A computer player for `seat` at `level` (one of bots.LEVELS), or None: no bots.

        `seed` is the match's and `settings` its complete settings. The bot sees
        only its seat's view; its randomness comes from the seed and the seat
        (games.engine.bots says the rules). An unknown level raises
        bots.UnknownLevel. None, the default: the game has no computer players.
        """
        return None

    def turn_seat(self, state: StateT) -> int | None:
        """The seat whose move a turn-based game waits for (its turn clock runs), or None.

        The server holds the clock of a seat to move while another seat's player is
        away within their grace period, so nobody loses on time to a player who is
        gone. None, the default: no turns (or the game is over).
        """
        return None

    @abstractmethod
    def outcome(self, state: StateT) -> Outcome | None:
        """The final outcome once the match is over, else None."""

    @abstractmethod
    def view(self, state: StateT, seat: int | None) -> JSON:
        """What `seat` (None: a spectator) may see, as JSON-ready data."""

    @abstractmethod
    def current_tick(self, state: StateT) -> int:
        """Ticks simulated so far."""

    def checkpoint(self, state: StateT) -> JSON:
        """The whole state as JSON-ready data (generator state included)."""
        return {"state": snapshot.dump(state)}

    def restore(self, data: JSON) -> StateT:
        """The state saved by `checkpoint`, ready to continue exactly where it stopped."""
        restored: StateT = snapshot.load(self.state_class, data["state"])
        return restored
