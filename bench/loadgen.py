"""One load-generator process: real WebSocket players of arena matches.

Each player connects the way a non-browser client does (a single-use ticket
in the URL, an Origin header), offers one subprotocol (by default the binary
`arcade.v1.msgpack`, what a client that cares for speed uses: state frames
arrive as msgpack, everything else as JSON text; or the browser's
`arcade.v1.compact`, whose deltas need the acks of `send_acks`), says `ready`,
and once its match is running sends an input at 20 Hz.
Every input carries a sequence number; every state reports, per ship, the
last sequence the server applied (`ack`). The latency of an input is the time
from just before it is sent to the arrival of the first state whose ack for
the player's own ship covers it (a newer input applied in the same tick
covers the older ones too, as in the browser client's reconciliation).

The parent process tells the generator when to measure, as absolute times on
the monotonic clock (one clock for every process of the machine), and gets
back the raw latencies and counts of that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import random
import ssl
import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from games.engine.arena_wire import (
    ACK,
    ACK_STEP,
    DELTA,
    DELTA_FIELD_SIZES,
    FULL,
    HEADER_DELTA_SIZE,
    HEADER_FULL_SIZE,
    SHIP_FULL_ACK_OFFSET,
    SHIP_FULL_SIZE,
)

MSGPACK, JSON, COMPACT = "arcade.v1.msgpack", "arcade.v1.json", "arcade.v1.compact"
# Inputs are spread over the input period in this many phases, so that the players of
# one process do not all send at the same instant (real players are not synchronised).
PHASES = 10


class _Ship(msgspec.Struct):
    ack: int


class _View(msgspec.Struct):
    ships: list[_Ship]


class _State(msgspec.Struct):
    """The only fields of a state frame the generator needs; msgspec skips the rest."""

    tick: int
    state: _View


_decode_binary_state = msgspec.msgpack.Decoder(_State).decode
_decode_text_state = msgspec.json.Decoder(_State).decode
# arcade.v1.compact (games/engine/arena_wire.py), read only for the tick and the own
# ship's ack: a full frame has every ship's record; a delta only the ships that changed,
# the ack as a step from the ack in the state it is a delta from (`age` ticks back).
_U32 = struct.Struct("<I")
# States a compact player keeps the acks of: the server takes deltas from at most 64 back.
_COMPACT_HISTORY = 128


def compact_state(frame: bytes, seat: int, acks: dict[int, int]) -> tuple[int, int, bool]:
    """(tick, the ack of the ship in `seat`, whether a delta) of a compact state frame;
    `acks` maps the ticks of earlier states to that ship's ack in them."""
    (tick,) = _U32.unpack_from(frame, 1)
    if frame[0] == FULL:
        end = HEADER_FULL_SIZE + frame[8] * SHIP_FULL_SIZE
        for at in range(HEADER_FULL_SIZE, end, SHIP_FULL_SIZE):
            if frame[at] == seat:
                return tick, _U32.unpack_from(frame, at + SHIP_FULL_ACK_OFFSET)[0], False
        raise ValueError("compact: no ship for the seat")
    if frame[0] != DELTA:
        raise ValueError(f"compact: unknown frame kind {frame[0]}")
    base = acks.get(tick - frame[5])
    if base is None:
        raise ValueError("compact: a delta from a state not received")
    ack, at = base, HEADER_DELTA_SIZE
    for _ in range(frame[7]):
        ship, mask = frame[at], frame[at + 1]
        at += 2
        for bit, size in enumerate(DELTA_FIELD_SIZES):
            if mask & (1 << bit):
                if ship == seat and 1 << bit == ACK_STEP:
                    ack = base + frame[at]
                elif ship == seat and 1 << bit == ACK:
                    (ack,) = _U32.unpack_from(frame, at)
                at += size
    return tick, ack, True


# The server encodes "type" first, so a text state frame is known by its first bytes.
_TEXT_STATE = '{"type":"state"'
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class SeatPlan:
    """Where one player connects: the socket URL (with its ticket) and the Origin to send."""

    url: str
    origin: str


@dataclass(frozen=True)
class WorkerPlan:
    matches: list[list[SeatPlan]]
    cpus: set[int]
    seed: int
    subprotocol: str = MSGPACK
    send_acks: bool = False  # put the newest state tick received in each input, as `ack`
    one_tick_inputs: bool = False  # each arena input is one tick of movement (`ticks: 1`)
    input_hz: float = 20.0
    connect_concurrency: int = 32
    start_timeout: float = 60.0
    ca_file: str = ""  # the CA to trust for wss:// URLs (a proxy's test certificate)


@dataclass
class ReadyReport:
    players: int
    active: int
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class WorkerResult:
    players: int
    latencies_ms: list[float]  # inputs sent in the window and acknowledged
    unacked: int  # inputs sent in the window and never acknowledged
    inputs: int  # inputs sent in the window
    states: int  # state frames received in the window
    ticks_spanned: int  # per player, last tick - first tick + 1 in the window, summed
    skipped_sends: int  # inputs of the window not sent on time (the process was overloaded)
    send_lag_ms: list[float]  # how late each send phase woke up in the window
    delta_states: int = 0  # compact states of the window that came as deltas
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)


@functools.cache
def _tls_context(ca_file: str) -> ssl.SSLContext:
    """One client context per process: the system's CAs, or only `ca_file` when given."""
    return ssl.create_default_context(cafile=ca_file or None)


@dataclass
class _Window:
    start: float = math.inf
    end: float = math.inf

    def __contains__(self, moment: float) -> bool:
        return self.start <= moment < self.end


class Player:
    def __init__(
        self, plan: SeatPlan, options: WorkerPlan, rng: random.Random, window: _Window
    ) -> None:
        self.plan = plan
        self.subprotocol = Subprotocol(options.subprotocol)
        self.send_acks = options.send_acks
        self.movement = {"ticks": 1} if options.one_tick_inputs else {}
        self.tls = _tls_context(options.ca_file) if plan.url.startswith("wss:") else None
        self.rng = rng
        self.window = window
        self.ws: ClientConnection | None = None
        self.seat = 0
        self.seq = 0
        self.sent: deque[tuple[int, float]] = deque()
        self.latencies: list[float] = []
        self.inputs = 0
        self.states = 0
        self.delta_states = 0
        self.acks: dict[int, int] = {}  # compact: tick -> this ship's ack in that state
        self.ticks: tuple[int, int] | None = None  # first and last tick received in the window
        self.last_tick: int | None = None
        self.active = asyncio.Event()
        self.closed_code: int | None = None
        self.errors: Counter[str] = Counter()
        self.controls = {"mx": 0, "my": 0, "aim": rng.uniform(0, math.tau), "fire": False}

    async def join(self) -> None:
        """Connect, read the welcome, say ready; the reader then runs until the socket closes."""
        self.ws = await connect(
            self.plan.url,
            origin=Origin(self.plan.origin),
            subprotocols=[self.subprotocol],
            compression=None,  # daphne never negotiates permessage-deflate
            proxy=None,
            ssl=self.tls,
            ping_interval=None,  # like a browser: the server pings, the client answers
            open_timeout=30,
            max_queue=256,
            user_agent_header="arcade-bench",
        )
        if self.ws.subprotocol != self.subprotocol:
            raise RuntimeError(f"server chose subprotocol {self.ws.subprotocol!r}")
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=30))
        if welcome["type"] != "welcome":
            raise RuntimeError(f"{welcome.get('type')}: {welcome.get('reason', '')}")
        self.seat = int(welcome["you"]["seat"])
        await self.ws.send('{"type":"ready"}')

    async def read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                now = time.monotonic()
                if isinstance(message, bytes) and self.subprotocol == COMPACT:
                    self._compact(message, now)
                elif isinstance(message, bytes):
                    frame = _decode_binary_state(message)
                    self._state(frame.tick, frame.state.ships[self.seat].ack, now)
                elif message.startswith(_TEXT_STATE):
                    frame = _decode_text_state(message)
                    self._state(frame.tick, frame.state.ships[self.seat].ack, now)
                else:
                    self._text(message)
        except ConnectionClosed:
            pass
        if self.ws.close_code not in (None, 1000):
            self.closed_code = self.ws.close_code

    def _compact(self, message: bytes, now: float) -> None:
        try:
            tick, ack, delta = compact_state(message, self.seat, self.acks)
        except (ValueError, IndexError, struct.error) as exc:
            # A frame the generator cannot read is the server's error, not a reason to stop.
            self.errors[f"undecodable frame: {exc}"[:120]] += 1
            return
        self.acks[tick] = ack
        if len(self.acks) > _COMPACT_HISTORY:
            del self.acks[next(iter(self.acks))]
        if delta and now in self.window:
            self.delta_states += 1
        self._state(tick, ack, now)

    def _state(self, tick: int, ack: int, now: float) -> None:
        self.last_tick = tick
        if now in self.window:
            self.states += 1
            first = self.ticks[0] if self.ticks else tick
            self.ticks = (first, tick)
        sent = self.sent
        while sent and sent[0][0] <= ack:
            _, at = sent.popleft()
            if at in self.window:
                self.latencies.append((now - at) * 1000.0)
        self.active.set()

    def _text(self, message: str) -> None:
        frame: dict[str, Any] = json.loads(message)
        if frame["type"] == "error":
            self.errors[str(frame.get("reason") or frame["code"])] += 1
        elif frame["type"] == "closing":
            self.errors[f"closing {frame['code']}"] += 1

    async def send_input(self, now: float) -> None:
        if self.ws is None or not self.active.is_set() or self.closed_code is not None:
            return
        self.seq += 1
        self._steer()
        fields = {"seq": self.seq, **self.controls, **self.movement}
        data: dict[str, Any] = {"type": "input", "data": fields}
        if self.send_acks and self.last_tick is not None:
            data["ack"] = self.last_tick
        text = _encode(data).decode()
        at = time.monotonic()
        self.sent.append((self.seq, at))
        if at in self.window:
            self.inputs += 1
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    def _steer(self) -> None:
        """Like a person at the keys: change course now and then, aim drifts, fire in bursts."""
        rng, controls = self.rng, self.controls
        if rng.random() < 0.05:
            controls["mx"], controls["my"] = rng.choice((-1, 0, 1)), rng.choice((-1, 0, 1))
        if rng.random() < 0.1:
            controls["fire"] = not controls["fire"]
        controls["aim"] = round((float(controls["aim"]) + rng.uniform(-0.2, 0.2)) % math.tau, 3)

    def unacked_in_window(self) -> int:
        return sum(1 for _, at in self.sent if at in self.window)


class Generator:
    def __init__(self, plan: WorkerPlan) -> None:
        self.plan = plan
        self.window = _Window()
        rng = random.Random(plan.seed)
        self.players = [
            Player(seat, plan, random.Random(rng.random()), self.window)
            for match in plan.matches
            for seat in match
        ]
        self.failures: Counter[str] = Counter()
        self.readers: list[asyncio.Task[None]] = []
        self.stop_at = math.inf
        self.skipped_sends = 0
        self.send_lag: list[float] = []
        self.driver: asyncio.Task[None] | None = None

    async def start(self) -> ReadyReport:
        """Connect every player and wait until each one's match sends states."""
        gate = asyncio.Semaphore(self.plan.connect_concurrency)
        await asyncio.gather(*(self._join(player, gate) for player in self.players))
        joined = [p for p in self.players if p.ws is not None]
        self.driver = asyncio.create_task(self._drive())
        waits = [asyncio.create_task(p.active.wait()) for p in joined]
        if waits:
            await asyncio.wait(waits, timeout=self.plan.start_timeout)
        for wait in waits:
            wait.cancel()
        active = sum(1 for p in joined if p.active.is_set())
        if active < len(joined):
            self.failures["match not started"] += len(joined) - active
        return ReadyReport(len(self.players), active, self.failures)

    async def _join(self, player: Player, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                await player.join()
            except Exception as exc:
                self.failures[f"{type(exc).__name__}: {exc}"[:120]] += 1
                if player.ws is not None:
                    await player.ws.close()
                    player.ws = None
                return
        self.readers.append(asyncio.create_task(player.read()))

    async def _drive(self) -> None:
        """Send every player's inputs at the input rate, the players spread over PHASES."""
        active = [p for p in self.players if p.ws is not None]
        phases = [active[i::PHASES] for i in range(PHASES)]
        step = 1.0 / self.plan.input_hz / PHASES
        start = time.monotonic()
        tick = 0
        while True:
            deadline = start + tick * step
            now = time.monotonic()
            if now >= self.stop_at:
                return
            if deadline > now:
                await asyncio.sleep(deadline - now)
                now = time.monotonic()
            late = now - deadline
            if now in self.window:
                self.send_lag.append(late * 1000.0)
            if late > step * PHASES:
                # A whole input period behind: this process is overloaded. Skip ahead
                # rather than burst (which the server would rate-limit), and count it.
                missed = int(late / step)
                if now in self.window:  # only the window's figures count
                    skipped = sum(len(phases[(tick + i) % PHASES]) for i in range(missed))
                    self.skipped_sends += skipped
                tick += missed
                continue
            for player in phases[tick % PHASES]:
                await player.send_input(now)
            tick += 1

    def measure(self, start: float, end: float, stop_at: float) -> None:
        self.window.start, self.window.end, self.stop_at = start, end, stop_at

    async def wait_until_stopped(self) -> None:
        if self.driver is not None:
            await self.driver

    def result(self) -> WorkerResult:
        errors: Counter[str] = Counter()
        closes: Counter[int] = Counter()
        for player in self.players:
            errors.update(player.errors)
            if player.closed_code is not None:
                closes[player.closed_code] += 1
        return WorkerResult(
            players=len(self.players),
            latencies_ms=[latency for p in self.players for latency in p.latencies],
            unacked=sum(p.unacked_in_window() for p in self.players),
            inputs=sum(p.inputs for p in self.players),
            states=sum(p.states for p in self.players),
            delta_states=sum(p.delta_states for p in self.players),
            ticks_spanned=sum(p.ticks[1] - p.ticks[0] + 1 for p in self.players if p.ticks),
            skipped_sends=self.skipped_sends,
            send_lag_ms=self.send_lag,
            errors=errors,
            closes=closes,
        )

    async def close(self) -> None:
        sockets = [p.ws for p in self.players if p.ws is not None]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        if self.readers:
            await asyncio.wait(self.readers, timeout=10)


def run_worker(plan: WorkerPlan, conn: Connection) -> None:
    """Entry point of a generator process: pinned to its cores, driven over `conn`."""
    os.sched_setaffinity(0, plan.cpus)
    try:
        import uvloop
    except ImportError:  # requirements-bench.txt installs it; plain asyncio works too
        asyncio.run(_serve(plan, conn))
    else:
        uvloop.run(_serve(plan, conn))


async def _serve(plan: WorkerPlan, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    generator = Generator(plan)
    conn.send(("ready", await generator.start()))
    command, *times = await loop.run_in_executor(None, conn.recv)
    if command == "measure":
        generator.measure(*times)
        await generator.wait_until_stopped()
        conn.send(("result", generator.result()))
        await loop.run_in_executor(None, conn.recv)  # "close": the parent has ended the matches
    await generator.close()
    conn.send(("closed",))
