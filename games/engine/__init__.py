"""The game registry: game key -> rules. Adding a game is one module plus one line here."""

from __future__ import annotations

from typing import Any

from games.engine.arena import Arena
from games.engine.base import EngineError, Game
from games.engine.connect_four import ConnectFour

GAMES: dict[str, Game[Any]] = {game.key: game for game in (ConnectFour(), Arena())}


class UnknownGame(EngineError):
    """No game is registered under this key."""

    code = "unknown_game"


def get_game(key: str) -> Game[Any]:
    """The rules registered under `key`; raises UnknownGame otherwise."""
    try:
        return GAMES[key]
    except KeyError:
        known = ", ".join(sorted(GAMES))
        raise UnknownGame(f"Unknown game {key!r}; known games: {known}.") from None
