"""The queue's steps, one interface for both implementations (Redis and this process's memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from games.matchmaking.rules import Entry, GroupRules, Renewal


class QueueBackend(Protocol):
    """The queue's steps; each is atomic. `now` is passed in, so tests control time."""

    async def join(self, entry: Entry, now: float, ttl: float, claim: float) -> str:
        """Queue (or move) the player: "queued", or "matching" if they are being matched."""

    async def leave(self, player_id: int, token: str, gone: bool) -> tuple[str, str]:
        """(result, game): "left"; "matching" (too late to leave); "absent".

        With `token`, only that socket's entry; with `gone`, that socket closed,
        so the player must not be put back in the queue.
        """

    async def renew(
        self, entries: Sequence[tuple[int, str]], now: float, ttl: float, claim: float
    ) -> list[Renewal]:
        """Keep these (player, token) entries alive; say what became of each.

        A FINISHED marker is reported once, then forgotten.
        """

    async def take(self, game: str, now: float, rules: GroupRules) -> list[list[Entry]]:
        """Drop expired entries, then take groups out of the queue (each player once)."""

    async def claim(self, entries: Sequence[Entry], now: float) -> list[Entry]:
        """Take these entries out of the queue as `take` does, those still queued as they are.

        For seating queued players in a match that waits for players; the rest of an
        entry's way (requeue, finish, recovery if the claimer dies) is a group's.
        """

    async def requeue(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        """Put taken players back with their original wait (unless their socket closed)."""

    async def finish(self, entries: Sequence[Entry], now: float, ttl: float) -> None:
        """Forget taken players: their match exists, or they may not play.

        Each socket's marker lasts `ttl` (renew reports it as FINISHED); expired
        markers of sockets that never renewed again are dropped here.
        """

    async def queued(self, game: str, limit: int | None = None) -> list[Entry]:
        """The queue of a game, oldest first; the oldest `limit` only, if given."""
