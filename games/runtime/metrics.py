"""What one daphne process is doing and has survived, for operators (prometheus_client).

Every process keeps its own numbers and serves them on a port of its own
(METRICS_PORT); Prometheus scrapes each process (docs/operations.md lists every
metric and what to do when it moves). Labels are few and bounded: a game name,
a socket kind, a subprotocol, a close or error code, never a match or player
id, so the number of series stays small.

Two kinds of numbers:
- read at scrape time from what the process holds anyway (the runtime's
  registries, presence, the drain flag, the Redis outage, autobahn's traffic
  counts): `ProcessState` below, nothing to update on any hot path;
- counted where it happens, through the small functions below (`tick`,
  `states_sent`, `socket_closed`...): each costs a dictionary lookup and an
  addition, and the label values' series are looked up once and kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from games.cluster import redis as cluster_redis

logger = logging.getLogger(__name__)

# No *_created series: a second series per counter that no query of ours reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

# --- Counted where it happens -----------------------------------------------------------

RUNNER_ERRORS = Counter(
    "arcade_runner_errors_total",
    "Exceptions a match runner caught and survived, by game and where (input, tick, step, inbox).",
    ["game", "where"],
)
SOCKET_CLOSES = Counter(
    "arcade_socket_closes_total",
    "Sockets that ended, by socket kind (match, lobby) and close code (1000/1001: the "
    "client left; 1006: the connection dropped; 4xxx: the server closed it, "
    "docs/protocol.md).",
    ["socket", "code"],
)
FRAMES_REFUSED = Counter(
    "arcade_frames_refused_total",
    "Frames from clients answered with an error frame (a strike), by socket kind and error code.",
    ["socket", "code"],
)
INPUTS_REFUSED = Counter(
    "arcade_inputs_refused_total",
    "Inputs a match runner refused, by game and error code (illegal, not_active...).",
    ["game", "code"],
)
INPUTS_MERGED = Counter(
    "arcade_inputs_merged_total",
    "Inputs of real-time games a runner merged into the next one of the same seat (or "
    "dropped) to drain a backlog that persisted, by game.",
    ["game"],
)
TICK_DURATION = Histogram(
    "arcade_tick_duration_seconds",
    "Time one tick of a match runner took (inputs, the game's step, encoding, sending).",
    ["game"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
TICK_LATENESS = Histogram(
    "arcade_tick_lateness_seconds",
    "How long after its deadline a tick started (the event loop was busy elsewhere).",
    ["game"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
TICKS_SKIPPED = Counter(
    "arcade_ticks_skipped_total",
    "Ticks a runner skipped because it fell more than 5 ticks behind its schedule, by game.",
    ["game"],
)
STATES_SENT = Counter(
    "arcade_states_sent_total",
    "States handed to this process's match sockets (one per socket and state).",
)
STATE_PUBLISHES = Counter(
    "arcade_state_publishes_total",
    "States runners here published over Redis for match sockets on other processes (one per "
    "other process and state): near 0 when every match's sockets reach its runner's process.",
)
ADOPTIONS = Counter(
    "arcade_runner_adoptions_total",
    "Matches this process took over from a checkpoint after their runner stopped elsewhere.",
    ["game"],
)
LEASE_LOSSES = Counter(
    "arcade_lease_losses_total",
    "Runners here that stopped because another process holds their match's lease now.",
    ["game"],
)
CHECKPOINT_DURATION = Histogram(
    "arcade_checkpoint_duration_seconds",
    "Time to store one checkpoint of a match in Redis.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
CHECKPOINT_FAILURES = Counter(
    "arcade_checkpoint_failures_total",
    "Checkpoints not stored (Redis unreachable); the match goes on and retries a second later.",
)
MATCHMAKING_WAIT = Histogram(
    "arcade_matchmaking_wait_seconds",
    "How long players matched by this process waited in the queue, by game.",
    ["game"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
DATABASE_ERRORS = Counter(
    "arcade_database_errors_total",
    "Database operations that failed for want of the database, by where (readiness, "
    "socket, runner).",
    ["where"],
)
EVENT_LOOP_LAG = Histogram(
    "arcade_event_loop_lag_seconds",
    "How late the process's once-a-second heartbeat woke up: time the event loop was "
    "busy with something else.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)

_tick_series: dict[str, tuple[Any, Any]] = {}
_refused_series: dict[tuple[str, str], Any] = {}


def tick(game: str, lateness: float, duration: float) -> None:
    """One tick of a runner of `game`: how late it started, and how long it took."""
    series = _tick_series.get(game)
    if series is None:
        series = _tick_series[game] = (TICK_LATENESS.labels(game), TICK_DURATION.labels(game))
    series[0].observe(max(lateness, 0.0))
    series[1].observe(duration)


def ticks_skipped(game: str, count: int) -> None:
    TICKS_SKIPPED.labels(game).inc(count)


def states_sent(count: int) -> None:
    STATES_SENT.inc(count)


def state_published() -> None:
    STATE_PUBLISHES.inc()


def input_refused(game: str, code: str) -> None:
    INPUTS_REFUSED.labels(game, code).inc()


def inputs_merged(game: str, count: int) -> None:
    INPUTS_MERGED.labels(game).inc(count)


def frame_refused(socket: str, code: str) -> None:
    series = _refused_series.get((socket, code))
    if series is None:
        series = _refused_series[(socket, code)] = FRAMES_REFUSED.labels(socket, code)
    series.inc()


def socket_closed(socket: str, code: int) -> None:
    SOCKET_CLOSES.labels(socket, str(code)).inc()


def adopted(game: str) -> None:
    ADOPTIONS.labels(game).inc()


def lease_lost(game: str) -> None:
    LEASE_LOSSES.labels(game).inc()


def checkpoint_stored(seconds: float) -> None:
    CHECKPOINT_DURATION.observe(seconds)


def checkpoint_failed() -> None:
    CHECKPOINT_FAILURES.inc()


def matched(game: str, waited: float) -> None:
    MATCHMAKING_WAIT.labels(game).observe(max(waited, 0.0))


def database_failed(where: str) -> None:
    DATABASE_ERRORS.labels(where).inc()


# --- What this process holds now (read at scrape time) ----------------------------------


class ProcessState(Collector):
    """Gauges and counters read at each scrape from the process's own state.

    Scrapes run on the metrics server's thread while the event loop changes
    that state: only sizes are read (len() of a dict or set is atomic), and
    contents through list() copies made in one C call, never iterated live.
    """

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registering must not read the runtime (not imported yet)

    def collect(self) -> Iterator[Metric]:
        from games.runtime import process  # the runtime imports this module

        runtime = process.current()
        for part in (_registrations, _sockets, _matches, _redis, _heartbeat, _traffic):
            try:
                # Whole families only: a part that fails leaves out its own, not the scrape.
                families = list(part(runtime))
            except Exception:
                logger.exception("metrics: %s could not be read", part.__name__)
                continue
            yield from families


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _registrations(runtime: Any) -> Iterator[Metric]:
    registrations = GaugeMetricFamily(
        "arcade_socket_registrations",
        "Sockets registered in this process, by registry: above the open sockets for long, a leak.",
        labels=["registry"],
    )
    counts = runtime.registrations() if runtime is not None else {}
    for registry, count in sorted(counts.items()):
        registrations.add_metric([registry], count)
    yield registrations
    yield _gauge(
        "arcade_match_runners",
        "Match runners in this process.",
        len(runtime.runners) if runtime is not None else 0,
    )
    yield _gauge(
        "arcade_draining",
        "1 while this process drains for a shutdown (SIGTERM): it takes no new matches.",
        1 if runtime is not None and runtime.draining else 0,
    )


def _sockets(runtime: Any) -> Iterator[Metric]:
    sockets = GaugeMetricFamily(
        "arcade_sockets_open",
        "Open sockets of this process, by kind (match, lobby) and subprotocol (json, "
        "msgpack, compact).",
        labels=["socket", "subprotocol"],
    )
    by_subprotocol: dict[str, int] = {}
    consumers = list(runtime.local.by_channel.values()) if runtime is not None else []
    for consumer in consumers:
        # "arcade.v1.msgpack" -> "msgpack": the protocol version is not a dimension here.
        encoding = (getattr(consumer, "encoding", None) or "json").rsplit(".", 1)[-1]
        by_subprotocol[encoding] = by_subprotocol.get(encoding, 0) + 1
    for encoding, count in sorted(by_subprotocol.items()):
        sockets.add_metric(["match", encoding], count)
    lobby = len(runtime.lobby.sockets) if runtime is not None else 0
    sockets.add_metric(["lobby", "json"], lobby)
    yield sockets
    yield _gauge(
        "arcade_presence_sockets",
        "This process's sockets in presence (who is online), republished every heartbeat.",
        len(runtime.presence.connections) if runtime is not None else 0,
    )
    queued = GaugeMetricFamily(
        "arcade_matchmaking_queued",
        "Players queued for a match ('Play now') from this process's lobby sockets, by game.",
        labels=["game"],
    )
    entries = list(runtime.matchmaking.local.values()) if runtime is not None else []
    by_game: dict[str, int] = {}
    for entry in entries:
        by_game[entry.game] = by_game.get(entry.game, 0) + 1
    for game, count in sorted(by_game.items()):
        queued.add_metric([game], count)
    yield queued


def _matches(runtime: Any) -> Iterator[Metric]:
    running = GaugeMetricFamily(
        "arcade_matches_running",
        "Matches whose runner is in this process, by game and status (waiting, active).",
        labels=["game", "status"],
    )
    inbox = GaugeMetricFamily(
        "arcade_runner_inbox_longest",
        "Operations waiting for the busiest runner here; it drains them every tick, so a "
        "number that keeps growing is a stuck runner.",
    )
    runners = list(runtime.runners.values()) if runtime is not None else []
    counts: dict[tuple[str, str], int] = {}
    for runner in runners:
        key = (runner.info.game, runner.status)
        counts[key] = counts.get(key, 0) + 1
    for (game, status), count in sorted(counts.items()):
        running.add_metric([game, status], count)
    inbox.add_metric([], max((len(runner.inbox) for runner in runners), default=0))
    yield running
    yield inbox


def _redis(runtime: Any) -> Iterator[Metric]:
    outage = cluster_redis.outage
    yield _gauge(
        "arcade_redis_up",
        "1 while Redis answers this process (or none is configured), 0 during an outage.",
        0 if outage.down else 1,
    )
    yield CounterMetricFamily(
        "arcade_redis_errors",
        "Operations of this process that failed for want of Redis.",
        value=outage.failures_total,
    )
    yield CounterMetricFamily(
        "arcade_redis_outages",
        "Times this process lost Redis (the first failure of each outage).",
        value=outage.outages,
    )
    fanout = runtime.fanout if runtime is not None else None
    yield CounterMetricFamily(
        "arcade_fanout_reconnections",
        "Times the pub/sub connection (states and inputs between processes) came back.",
        value=fanout.reconnections if fanout is not None else 0,
    )


# --- The event loop's heartbeat --------------------------------------------------------

HEARTBEAT_SECONDS = 1.0
_last_beat: float | None = None  # time.monotonic() of the last beat


async def heartbeat() -> None:
    """Wake once a second and note how late: a stalled event loop stalls every match."""
    global _last_beat
    loop = asyncio.get_running_loop()
    # The start counts as a beat: a scrape in the first second sees an age, not no series.
    _last_beat = time.monotonic()
    while True:
        due = loop.time() + HEARTBEAT_SECONDS
        await asyncio.sleep(HEARTBEAT_SECONDS)  # the heartbeat's period
        EVENT_LOOP_LAG.observe(max(loop.time() - due, 0.0))
        _last_beat = time.monotonic()


def _heartbeat(runtime: Any) -> Iterator[Metric]:
    if _last_beat is None:
        return  # no heartbeat runs (not under daphne, or the loop has not started yet)
    yield _gauge(
        "arcade_event_loop_heartbeat_age_seconds",
        "Seconds since the event loop last ran its once-a-second heartbeat: above 1-2, the "
        "loop is stalled and every socket and match of the process with it.",
        time.monotonic() - _last_beat,
    )


# --- WebSocket traffic (autobahn's own per-connection counts) -------------------------

_open_connections: dict[int, Any] = {}  # id -> daphne WebSocketProtocol
_closed_traffic: dict[tuple[str, str], list[int]] = {}  # (socket, direction) -> [frames, bytes]


def _kind(protocol: Any) -> str:
    path = getattr(protocol, "path", b"") or b""
    if path.startswith(b"/ws/match/"):
        return "match"
    if path.startswith(b"/ws/lobby/"):
        return "lobby"
    return "other"


def _traffic_of(protocol: Any) -> Iterator[tuple[str, int, int]]:
    stats = protocol.trafficStats
    yield "in", stats.incomingWebSocketMessages, stats.incomingOctetsWireLevel
    yield "out", stats.outgoingWebSocketMessages, stats.outgoingOctetsWireLevel


def track_websocket_traffic() -> None:
    """Count frames and bytes of every WebSocket of daphne, from autobahn's own counters
    (under another server these counters stay at 0).

    autobahn counts every connection's messages and wire bytes anyway; an open
    connection is read at scrape time and a closed one's counts are added up
    once, as it closes: nothing more per frame.
    """
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol, "_arcade_counted", False):
        return
    opened, closed = WebSocketProtocol.onOpen, WebSocketProtocol.onClose

    def on_open(self: Any) -> None:
        _open_connections[id(self)] = self
        opened(self)

    def on_close(self: Any, was_clean: bool, code: int | None, reason: str | None) -> None:
        if _open_connections.pop(id(self), None) is not None:
            for direction, frames, octets in _traffic_of(self):
                totals = _closed_traffic.setdefault((_kind(self), direction), [0, 0])
                totals[0] += frames
                totals[1] += octets
        closed(self, was_clean, code, reason)

    WebSocketProtocol.onOpen = on_open
    WebSocketProtocol.onClose = on_close
    WebSocketProtocol._arcade_counted = True


def _traffic(runtime: Any) -> Iterator[Metric]:
    totals = {key: list(value) for key, value in list(_closed_traffic.items())}
    for protocol in list(_open_connections.values()):
        for direction, frames, octets in _traffic_of(protocol):
            entry = totals.setdefault((_kind(protocol), direction), [0, 0])
            entry[0] += frames
            entry[1] += octets
    frames_family = CounterMetricFamily(
        "arcade_websocket_frames",
        "WebSocket messages received (in) and sent (out), by socket kind.",
        labels=["socket", "direction"],
    )
    bytes_family = CounterMetricFamily(
        "arcade_websocket_bytes",
        "Bytes on the wire of WebSocket connections, by socket kind and direction.",
        labels=["socket", "direction"],
    )
    for kind in ("match", "lobby"):
        for direction in ("in", "out"):
            frames, octets = totals.get((kind, direction), [0, 0])
            frames_family.add_metric([kind, direction], frames)
            bytes_family.add_metric([kind, direction], octets)
    yield frames_family
    yield bytes_family


REGISTRY.register(ProcessState())


def serve(port: int, address: str) -> None:
    """Serve /metrics on a port of its own (on its own thread), for operators only.

    Bound to loopback by default: it is for the host's scraper, never the public.
    Also starts the event loop's heartbeat, and under daphne counts WebSocket
    traffic. Called by gameproject/asgi.py as daphne imports the application
    (before its reactor runs), or at uvicorn's lifespan start-up (on its loop);
    a second call (both paths in one process) starts nothing twice.
    """
    global _serving
    if not _serving:
        start_http_server(port, addr=address)
        _serving = True
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # daphne: its reactor, on an asyncio loop, is not running yet
        track_websocket_traffic()
        from twisted.internet import reactor

        reactor.callWhenRunning(_start_heartbeat)
        return
    _start_heartbeat()


_serving = False
_heartbeat_task: asyncio.Task[None] | None = None


def _start_heartbeat() -> None:
    global _heartbeat_task
    if _heartbeat_task is not None and not _heartbeat_task.done():
        return
    # Held here for the process's lifetime (the loop keeps only weak references to tasks).
    _heartbeat_task = asyncio.get_event_loop().create_task(heartbeat())
