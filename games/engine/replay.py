"""Re-simulate a match from its seed, settings and input log.

The runner records every input it applied as `(tick, seat, data)`, where
`tick` is the number of ticks simulated before the input was applied and
`data` None means the seat left for good. Replaying applies each entry at its
tick, in log order, before simulating the next tick, exactly as the runner did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from games.engine.base import JSON, Game, IllegalInput

LogEntry = tuple[int, int, Mapping[str, Any] | None]


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
    state = game.initial_state(settings, seats, seed)
    pending = sorted(log, key=lambda entry: entry[0])  # stable: keeps log order within a tick
    index = 0
    while game.outcome(state) is None:
        tick = game.current_tick(state)
        if until_tick is not None and tick >= until_tick:
            break
        while index < len(pending) and pending[index][0] <= tick:
            _, seat, data = pending[index]
            index += 1
            _apply(game, state, seat, data)
        if game.outcome(state) is not None:
            break
        game.tick(state)
    return state


def _apply(game: Game[Any], state: Any, seat: int, data: Mapping[str, Any] | None) -> None:
    if data is None:
        game.remove_seat(state, seat)
        return
    # The runner logs only inputs it applied; a refusal here could not change the state.
    with contextlib.suppress(IllegalInput):
        game.apply_input(state, seat, data)
