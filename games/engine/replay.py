"""Re-simulate a match from its seed, settings and input log.

The runner records every input it applied as `(tick, seat, data)`, where
`tick` is the number of ticks simulated before the input was applied and
`data` None means the seat left for good. Replaying applies each entry at its
tick, in log order, before simulating the next tick, exactly as the runner did.

`data` is the input as `Game.dump_input` wrote it. Logs written before inputs
were validated may hold fields no schema declares (ignored, as the game did
then) or values the schema refuses (skipped: out-of-range controls the arena
clamped then, which no client of ours sends).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from games.engine.base import JSON, Game, IllegalInput, InvalidInput

LogEntry = tuple[int, int, Mapping[str, Any] | None] | list[Any]


def steps(
    game: Game[Any], settings: JSON, seats: int, seed: int, log: Iterable[LogEntry]
) -> Iterator[tuple[Any, bool]]:
    """Yield the state after every simulated tick, with whether inputs were applied before it.

    The first item is the initial state. The same state object is yielded each
    time (it is mutated in place): copy what you keep.
    """
    state = game.initial_state(settings, seats, seed)
    yield state, False
    pending = sorted(log, key=lambda entry: entry[0])  # stable: keeps log order within a tick
    index = 0
    while game.outcome(state) is None:
        tick = game.current_tick(state)
        applied = False
        while index < len(pending) and pending[index][0] <= tick:
            _, seat, data = pending[index]
            index += 1
            applied = True
            _apply(game, state, seat, data)
        if game.outcome(state) is None:
            game.tick(state)
        yield state, applied


def replay(
    game: Game[Any],
    settings: JSON,
    seats: int,
    seed: int,
    log: Iterable[LogEntry],
    *,
    until_tick: int | None = None,
) -> Any:
    """The state after replaying `log`, up to the end of the match or `until_tick`."""
    state = None
    for state, _ in steps(game, settings, seats, seed, log):
        if until_tick is not None and game.current_tick(state) >= until_tick:
            break
    return state


def _apply(game: Game[Any], state: Any, seat: int, data: Mapping[str, Any] | None) -> None:
    if data is None:
        game.remove_seat(state, seat)
        return
    # The runner logs only inputs it applied; a refusal here could not change the state.
    with contextlib.suppress(IllegalInput, InvalidInput):
        game.apply_input(state, seat, game.parse_input(_declared(game, data)))


def _declared(game: Game[Any], data: Mapping[str, Any]) -> Any:
    if not isinstance(data, Mapping):
        return data  # parse_input says why
    fields = game.Input.__struct_fields__
    return {name: value for name, value in data.items() if name in fields}
