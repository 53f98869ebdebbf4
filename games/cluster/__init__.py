"""State every process shares: in Redis when REDIS_URL is set, otherwise in this process's memory.

- `redis`: the Redis clients (one per event loop, one sync), key names and the outage log.
- `leases`: at most one process runs a match, with a fencing token per run.
- `checkpoints`: fenced snapshots of live matches, so another process can adopt one.
- `presence`: who is online, and connected to which match, across every process.
- `tickets`: single-use tickets that let non-browser clients open a match socket.
- `processes`: every live server process as it last described itself (the console).

Each piece that has both forms declares one interface (a `typing.Protocol`) with a
`Redis…` and a `Local…` implementation side by side in its module. `shared()` picks
them, once, from REDIS_URL; outside this package nothing asks whether Redis is
configured. Code that behaves differently on a single process (no fan-out
connection, no lease to take, no watchdog) asks `shared().is_local`. Checkpoints
exist only in Redis: without it there is no other process to adopt a match, and
the runtime gives its runners none. The matchmaking queue follows the same
choice, in `games.matchmaking.matcher` (its implementations know the queue's
rules, a layer above this one).

The choice is remade when REDIS_URL changes (Django's `setting_changed`, as it
does for its caches), so tests may switch between the two with `settings`.

May import: Django settings and signals, redis, msgspec and other `games.cluster` modules.
Must not import: `games.models`, `games.services`, `games.runtime`, `games.sockets`,
`games.matchmaking` — this layer holds shared state and knows nothing of matches'
rules or sockets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from games.cluster import redis as cluster_redis
from games.cluster.leases import Leases, LocalLeases, RedisLeases
from games.cluster.presence import LocalPresenceStore, PresenceStore, RedisPresenceStore
from games.cluster.processes import LocalProcesses, ProcessRegistry, RedisProcesses
from games.cluster.tickets import LocalTickets, RedisTickets, Tickets


@dataclass(frozen=True)
class SharedState:
    """The implementations of the shared pieces for this deployment."""

    is_local: bool  # a single process, without Redis
    leases: Leases
    presence: PresenceStore
    tickets: Tickets
    processes: ProcessRegistry


_state: SharedState | None = None
_lock = threading.Lock()  # views (threads) and the event loop may ask first at once


def shared() -> SharedState:
    """The shared pieces, picked from REDIS_URL the first time they are asked for."""
    state = _state
    if state is None:
        state = _pick()
    return state


def _pick() -> SharedState:
    global _state
    with _lock:
        if _state is None:
            _state = _build()
        return _state


def _build() -> SharedState:
    if settings.REDIS_URL:
        return SharedState(
            is_local=False,
            leases=RedisLeases(),
            presence=RedisPresenceStore(),
            tickets=RedisTickets(),
            processes=RedisProcesses(),
        )
    return SharedState(
        is_local=True,
        leases=LocalLeases(),
        presence=LocalPresenceStore(),
        tickets=LocalTickets(),
        processes=LocalProcesses(),
    )


def reset() -> None:
    """Pick again at the next `shared()` (REDIS_URL changed): the local pieces start
    empty, and the sync Redis client, bound to the old URL, is made again."""
    global _state
    with _lock:
        _state = None
        cluster_redis.forget_sync_client()


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "REDIS_URL":
        reset()


setting_changed.connect(_setting_changed, dispatch_uid="games.cluster.shared")
