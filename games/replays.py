"""Turn a stored replay into frames for the replay viewer, by re-simulating it."""

from __future__ import annotations

from typing import Any

from games.engine import get_game
from games.engine.replay import steps
from games.models import Replay

# At most about this many frames go to the viewer; long matches are sampled
# evenly, but every tick right after an input is kept so no move is skipped.
MAX_FRAMES = 1500


def replay_frames(replay: Replay) -> dict[str, Any]:
    game = get_game(replay.game)
    stride = max(1, -(-replay.final_tick // MAX_FRAMES))
    frames = []
    view: dict[str, Any] = {}
    for state, applied in steps(game, replay.settings, replay.seats, replay.seed, replay.entries()):
        tick = game.current_tick(state)
        over = game.outcome(state) is not None
        if tick == 0 or applied or over or tick % stride == 0:
            view = game.view(state, None)
            frames.append({"tick": tick, "state": view})
    return {
        "match": str(replay.match_id),
        "game": replay.game,
        "tick_rate": int(replay.settings.get("tick_rate", game.tick_rate)),
        "final_tick": replay.final_tick,
        "seats": replay.seats,
        "frames": frames,
        "verified": view == replay.final_state,
    }
