"""What a match runner is handed: its store, transport and checkpoints, and the rows it reads.

The runner depends on these protocols only, so tests can hand it fakes: the
database store is `store.DatabaseStore`, the transport `games.runtime.fanout.FanoutTransport`,
the checkpoints `games.cluster.checkpoints`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from games.cluster.leases import Lease
from games.services.results import ReplayData, SeatRecord


@dataclass(frozen=True)
class SeatRow:
    seat: int
    player_id: int
    name: str
    bot: str | None = None  # a bot's level: the runner plays this seat itself


@dataclass(frozen=True)
class MatchInfo:
    id: str
    game: str
    status: str
    settings: dict[str, Any]
    seed: int
    max_players: int
    seats: list[SeatRow]
    runner_fence: int = 0  # the newest runner token the database has recorded


class Checkpoints(Protocol):
    async def save(
        self, lease: Lease, payload: dict[str, Any], new_log: list[list[Any]]
    ) -> bool | None: ...
    async def delete(self, match_id: str) -> None: ...


Restored = tuple[dict[str, Any], list[list[Any]]]


class Transport(Protocol):
    fence: int | None  # the runner's token, carried by every message

    async def deliver(self, channels: Iterable[str], kind: str, **fields: Any) -> None: ...
    async def broadcast_end(self, text: str) -> None: ...
    async def request_rejoin(self) -> None: ...


class Store(Protocol):
    async def start(
        self, match_id: str, present: list[int], fence: int | None
    ) -> list[SeatRow]: ...
    async def finish(
        self,
        match_id: str,
        results: list[SeatRecord],
        summary: str,
        replay: ReplayData,
        fence: int | None,
    ) -> dict[str, Any]: ...
    async def abort(self, match_id: str, reason: str, fence: int | None) -> None: ...
    async def leave(self, match_id: str, player_id: int) -> None: ...
