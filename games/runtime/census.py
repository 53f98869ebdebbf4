"""What this process tells the operators' console about itself, every heartbeat.

Every HEARTBEAT_SECONDS the census writes the process's record
(games/cluster/processes.py): its sockets, the matches it runs with their tick
and measured tick rate, its tick lateness p99 and whether it drains. Reading
that costs sizes and a copy of the runners' list, no database and no Redis
beyond the one write.

The lateness p99 is read from the process's own `arcade_tick_lateness_seconds`
histogram (games/runtime/metrics.py), over the ticks since the previous
heartbeat: the difference of its bucket counts, interpolated within the bucket
that holds the 99th percentile, as Prometheus's histogram_quantile() does. So
nothing is added to the tick's hot path, and the figure is as precise as the
histogram's buckets (1, 2.5, 5, 10, 25 ms...).

Imports: `games.cluster` and the metrics; it reads the runtime through the
small `Runtime` protocol below, never by importing the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any, Protocol

from games.cluster import processes
from games.runtime import metrics

logger = logging.getLogger(__name__)

QUANTILE = 0.99


class Runtime(Protocol):
    """What the census reads of a ProcessRuntime."""

    holder: str
    draining: bool
    local: Any  # LocalSockets: its `by_channel`
    lobby: Any  # LobbyFeed: its `sockets`

    @property
    def runners(self) -> Mapping[str, Any]: ...


class Census:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()
        self._task: asyncio.Task[None] | None = None
        self._ticks: dict[str, tuple[int, float]] = {}  # match -> (tick, monotonic time)
        self._buckets = _lateness_buckets()  # cumulative counts at the previous heartbeat

    def start(self) -> None:
        """Start the heartbeat on the running event loop (once; no loop: nothing)."""
        if self._task is not None and not self._task.done():
            return
        with contextlib.suppress(RuntimeError):  # sync code: no loop to run it on
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _beat(self) -> None:
        while True:
            try:
                # Asked each time: the choice is made again when REDIS_URL changes (tests).
                await processes.registry().publish(self.record())
            except Exception:  # a bug here must not end the heartbeat for good
                logger.exception("the process record could not be written")
            await asyncio.sleep(processes.HEARTBEAT_SECONDS)  # the heartbeat's period

    def record(self) -> processes.ProcessRecord:
        """This process now; also moves the measuring window on to this moment."""
        runtime = self.runtime
        return processes.ProcessRecord(
            holder=runtime.holder,
            host=self.host,
            pid=self.pid,
            started_at=self.started_at,
            at=time.time(),
            match_sockets=len(runtime.local.by_channel),
            lobby_sockets=len(runtime.lobby.sockets),
            runners=self._runners(),
            lateness_p99_ms=self._lateness_p99_ms(),
            draining=bool(runtime.draining),
        )

    def _runners(self) -> list[processes.RunnerRecord]:
        now = time.monotonic()
        seen: dict[str, tuple[int, float]] = {}
        records = []
        for match_id, runner in list(self.runtime.runners.items()):
            state = runner.state
            tick = int(runner.game.current_tick(state)) if state is not None else 0
            rate = None
            previous = self._ticks.get(match_id)
            if previous is not None and now > previous[1] and tick >= previous[0]:
                rate = round((tick - previous[0]) / (now - previous[1]), 1)
            seen[match_id] = (tick, now)
            records.append(
                processes.RunnerRecord(
                    match_id, runner.info.game, runner.status, tick, runner.tick_rate, rate
                )
            )
        self._ticks = seen  # matches that stopped are forgotten
        return records

    def _lateness_p99_ms(self) -> float | None:
        buckets = _lateness_buckets()
        window = {le: count - self._buckets.get(le, 0.0) for le, count in buckets.items()}
        self._buckets = buckets
        seconds = quantile(QUANTILE, window)
        return None if seconds is None else round(seconds * 1000, 2)


def _lateness_buckets() -> dict[float, float]:
    """The tick lateness histogram's cumulative counts by upper bound, summed over games."""
    totals: dict[float, float] = {}
    for family in metrics.TICK_LATENESS.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
    return totals


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile of a histogram given as cumulative counts by upper bound (+Inf
    included), interpolated linearly within its bucket; None for no observations.

    As Prometheus's histogram_quantile(): a quantile in the +Inf bucket is the highest
    finite bound, and the lowest bucket starts at 0.
    """
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), 0.0)
    if not bounds or total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def reset_for_tests() -> None:
    """Forget the process records kept in memory (the runtime's reset_for_tests calls this)."""
    processes.reset_for_tests()
