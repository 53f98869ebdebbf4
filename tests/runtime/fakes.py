"""In-memory fakes of what a MatchRunner is handed (the Protocols of
games/runtime/match/ports.py), a clock the test moves, and helpers to build and
drive a runner without Redis, a database or sockets."""

from __future__ import annotations

import json
from concurrent.futures import Executor
from typing import Any

import msgspec

from games.cluster.leases import Lease
from games.engine import get_game
from games.runtime.match import ops
from games.runtime.match.ports import MatchInfo, SeatRow
from games.runtime.match.runner import MatchRunner

SEATS = [SeatRow(0, 101, "Ann"), SeatRow(1, 102, "Ben")]


class Transport:
    """Records every frame the runner sends, decoded where it is JSON text."""

    fence = None

    def __init__(self) -> None:
        self.frames: list[tuple[list[str], str, dict[str, Any]]] = []
        self.ended: list[str] = []
        self.rejoins = 0

    async def deliver(self, channels: Any, kind: str, **fields: Any) -> None:
        self.frames.append((list(channels), kind, fields))

    async def broadcast_end(self, text: str) -> None:
        self.ended.append(text)

    async def request_rejoin(self) -> None:
        self.rejoins += 1

    def texts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The JSON frames (`match.frame`) sent, to `channel` if given, oldest first."""
        return [
            json.loads(fields["text"])
            for channels, kind, fields in self.frames
            if kind == "match.frame" and (channel is None or channel in channels)
        ]

    def of_type(self, kind: str, channel: str | None = None) -> list[dict[str, Any]]:
        return [frame for frame in self.texts(channel) if frame["type"] == kind]

    def errors(self, channel: str | None = None) -> list[dict[str, Any]]:
        return self.of_type("error", channel)

    def states(self) -> list[tuple[list[str], dict[str, Any]]]:
        return [(channels, f) for channels, kind, f in self.frames if kind == "match.state"]

    def closes(self) -> list[tuple[list[str], int]]:
        return [(channels, f["code"]) for channels, kind, f in self.frames if kind == "match.close"]

    def clear(self) -> None:
        self.frames.clear()


class Store:
    """The database as the runner sees it: start, finish, abort, leave, recorded."""

    def __init__(self, seats: list[SeatRow] | None = None) -> None:
        self.seats = SEATS if seats is None else seats
        self.started: list[list[int]] = []
        self.aborted: str | None = None
        self.finished: str | None = None
        self.results: list[Any] = []
        self.left: list[int] = []

    async def start(self, match_id: str, present: list[int], fence: int | None) -> list[SeatRow]:
        self.started.append(present)
        return [s for s in self.seats if s.player_id in present]

    async def finish(self, match_id: str, results: Any, summary: str, replay: Any, fence: Any):
        self.finished, self.results = summary, results
        return {"status": "finished", "summary": summary, "rated": True, "seats": []}

    async def abort(self, match_id: str, reason: str, fence: int | None) -> None:
        self.aborted = reason

    async def leave(self, match_id: str, player_id: int) -> None:
        self.left.append(player_id)


class Checkpoints:
    """Keeps checkpoints as the bytes games.cluster.checkpoints writes to Redis (msgpack)."""

    def __init__(self) -> None:
        self.payload: bytes | None = None
        self.chunks: list[bytes] = []
        self.deleted = False
        self.ticks: list[int] = []  # the tick of every checkpoint saved

    async def save(self, lease: Lease, payload: dict[str, Any], new_log: list[list[Any]]) -> bool:
        self.payload = msgspec.msgpack.encode(payload)
        self.ticks.append(payload["tick"])
        if new_log:
            self.chunks.append(msgspec.msgpack.encode(new_log))
        return True

    async def delete(self, match_id: str) -> None:
        self.deleted = True

    def load(self) -> tuple[dict[str, Any], list[list[Any]]]:
        assert self.payload is not None
        log = [entry for chunk in self.chunks for entry in msgspec.msgpack.decode(chunk)]
        return msgspec.msgpack.decode(self.payload), log


class Clock:
    """The runner's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_runner(
    game: str,
    settings: dict[str, Any] | None = None,
    *,
    seats: list[SeatRow] | None = None,
    clock: Clock | None = None,
    grace: float | None = None,
    countdown: float = 0.0,
    thinking: Executor | None = None,
    restored: Any = None,
) -> MatchRunner:
    """A runner of a match not started yet, or, with `restored` (a checkpoint's load()),
    the runner of another process adopting it."""
    seats = SEATS if seats is None else seats
    info = MatchInfo(
        id=f"test-{game}",
        game=game,
        status="waiting",
        settings=get_game(game).settings(settings or {}),
        seed=1234,
        max_players=max(2, len(seats)),
        seats=seats,
    )
    return MatchRunner(
        info,
        Transport(),
        Store(seats),
        lease=Lease(info.id, "here", 1),
        checkpoints=Checkpoints(),
        grace_seconds=grace,
        countdown_seconds=countdown,
        thinking=thinking,
        restored=restored,
        clock=clock or Clock(),
    )


def channel(seat: int) -> str:
    return f"socket-{seat}"


def join(runner: MatchRunner, seat: SeatRow, socket: str | None = None) -> None:
    runner.post(ops.Join(seat.player_id, socket or channel(seat.seat), seat.seat, seat.name))


def ready(runner: MatchRunner, seat: SeatRow, socket: str | None = None) -> None:
    runner.post(ops.Ready(seat.player_id, socket or channel(seat.seat)))


def leave(runner: MatchRunner, seat: SeatRow, socket: str | None = None) -> None:
    runner.post(ops.Leave(seat.player_id, socket or channel(seat.seat)))


def send_input(runner: MatchRunner, seat: SeatRow, data: Any, socket: str | None = None) -> None:
    runner.post(ops.Input(seat.player_id, socket or channel(seat.seat), data))


async def started(game: str, settings: dict[str, Any] | None = None, **options: Any) -> MatchRunner:
    """A runner whose every seat joined and is ready: active after one step."""
    runner = new_runner(game, settings, **options)
    for seat in runner.info.seats:
        join(runner, seat)
        ready(runner, seat)
    await runner.step()
    assert runner.status == "active"
    return runner
