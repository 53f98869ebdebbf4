"""Every live server process, as it last described itself: the operators' console reads it.

Each process's runtime writes one small record about itself every
HEARTBEAT_SECONDS (games/runtime/census.py): its holder id, host and pid, its
sockets, the matches it runs and how fast they tick, its tick lateness p99,
whether it drains. A record lives RECORD_TTL_SECONDS: the record of a process
that died, or whose event loop stalled that long, disappears with no cleanup
by anyone, and its age before then is the console's "last heartbeat".

Two implementations behind one interface, picked by `games.cluster.shared()`:
- `RedisProcesses` when REDIS_URL is set: one key per process with that TTL,
  and an index of holders scored by when each record expires (read as presence
  is: only entries not expired count), so a reader makes two round trips
  whatever the number of processes;
- `LocalProcesses` otherwise: there is one process, and its own record, in its
  memory, is the answer. The runtime writes it on the event loop and the admin
  reads it from a worker thread: a dictionary assignment and a copy, each one
  step under the GIL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Protocol

import msgspec

from games import cluster
from games.cluster import redis as cluster_redis

HEARTBEAT_SECONDS = 2.0
# Long enough for a process to miss a few beats (a full collection, a slow Redis) and
# still be listed, with its growing age telling the operator something is wrong.
RECORD_TTL_SECONDS = 15.0


class RunnerRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One match a process runs, as its runner stood at the heartbeat."""

    match: str
    game: str
    status: str  # waiting, active
    tick: int
    tick_rate: int  # the rate it is set to run at
    ticks_per_second: float | None  # measured since the previous heartbeat; None at first


class ProcessRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What one process said about itself at `at` (seconds since the epoch)."""

    holder: str  # the id its leases and presence entries carry
    host: str
    pid: int
    started_at: float
    at: float
    match_sockets: int
    lobby_sockets: int
    runners: list[RunnerRecord]
    # Over the ticks of every runner here since the previous heartbeat; None: no tick.
    lateness_p99_ms: float | None
    draining: bool

    def age(self, now: float | None = None) -> float:
        """Seconds since this record was written (its last heartbeat)."""
        return max(0.0, (time.time() if now is None else now) - self.at)


class ProcessRegistry(Protocol):
    """Where processes' records are kept: written from the event loop, read from sync code."""

    async def publish(self, record: ProcessRecord) -> None: ...

    def current(self) -> list[ProcessRecord]: ...


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ProcessRecord)


class RedisProcesses:
    """Records in Redis: `processes:<holder>` with a TTL, and the `processes` index."""

    async def publish(self, record: ProcessRecord) -> None:
        """Store this record. Redis away: nothing is stored (the record ages meanwhile, and
        the next heartbeat writes it again); never an error here."""
        expires = time.time() + RECORD_TTL_SECONDS
        try:
            async with cluster_redis.async_client().pipeline(transaction=False) as pipe:
                pipe.set(_record_key(record.holder), _encoder.encode(record), px=_ttl_ms())
                pipe.zadd(_index_key(), {record.holder: expires})
                pipe.zremrangebyscore(_index_key(), "-inf", time.time())
                await pipe.execute()
        except cluster_redis.ERRORS as exc:
            cluster_redis.outage.failed("the process record", exc)

    def current(self) -> list[ProcessRecord]:
        client = cluster_redis.sync_client()
        holders = [_text(h) for h in client.zrangebyscore(_index_key(), time.time(), "+inf")]
        if not holders:
            return []
        raws = client.mget([_record_key(h) for h in holders])
        return _sorted(_decoder.decode(raw) for raw in raws if raw is not None)


class LocalProcesses:
    """This process's own record, in its memory (no Redis: one process)."""

    def __init__(self) -> None:
        self.records: dict[str, ProcessRecord] = {}

    async def publish(self, record: ProcessRecord) -> None:
        self.records[record.holder] = record

    def current(self) -> list[ProcessRecord]:
        now = time.time()
        records = list(self.records.values())
        return _sorted(r for r in records if r.age(now) < RECORD_TTL_SECONDS)


def registry() -> ProcessRegistry:
    """The registry every process shares: Redis's when REDIS_URL is set, else this process's."""
    return cluster.shared().processes


def current() -> list[ProcessRecord]:
    """Every live process's latest record, by host and pid (from sync code: the admin)."""
    return registry().current()


def _sorted(records: Iterable[ProcessRecord]) -> list[ProcessRecord]:
    return sorted(records, key=lambda r: (r.host, r.pid, r.holder))


def _index_key() -> str:
    return cluster_redis.key("processes")


def _record_key(holder: str) -> str:
    return cluster_redis.key("process", holder)


def _ttl_ms() -> int:
    return int(RECORD_TTL_SECONDS * 1000)


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def reset_for_tests() -> None:
    """Forget the records kept in this process's memory (the runtime's reset calls this)."""
    assert os.environ.get("PYTEST_CURRENT_TEST"), "reset_for_tests() is for tests only"
    local = registry()
    if isinstance(local, LocalProcesses):
        local.records.clear()
