"""Match leases: at most one process runs a match, and each run has a fencing token.

A lease is `SET lease:<match> <holder>|<token> NX PX <ttl>`, taken in one Lua
script together with `INCR fence:<match>`, so every successful claim gets a
token larger than any before it. The holder renews it (compare-and-PEXPIRE)
and releases it (compare-and-DEL); it never touches a lease it does not hold.
The token goes with every database write of the runner (`Match.runner_fence`),
so a runner that was paused past its lease cannot overwrite its successor.

The database, not Redis, is the authority on tokens: a claim is given a floor
(the match's `runner_fence`) and its token is above it even when the counter
in Redis is gone (a Redis restarted empty, or the counter's expiry), and the
supervisor records each new token in the database before the runner starts.

A runner whose lease vanished (it expired while Redis was unreachable, or
Redis restarted empty) may take it again with `reestablish` — only if nobody
claimed the match since: the counter is not above its token.

A lease whose holder's process is dead need not be waited out: `connected`
tells which holders have a process connected to Redis now (each process names
its pub/sub connection after its holder id, games/cluster/redis.py), and a
claim may replace one given lease value, atomically, if it is still the one
held. Whoever decides that a holder is dead (games/runtime/runners.py) can be
wrong only about a process that lives without a connection to Redis; it can
then renew nothing, its next renewal finds the lease taken and stops it, and
the fencing token keeps anything it still writes out.

Renewals never queue behind the process's other Redis traffic: they go out
on a connection of their own, from a thread of their own (`Renewer`), not
through the shared pool. On a process whose core is taken by other work, the
event loop runs late and the pool's callers (checkpoints, presence, states,
inputs) pile up, open new connections and wait seconds for them; a renewal
among them missed its lease. The loop still decides when to renew (a loop
that stopped for good lets its leases expire, as it should); the renewal
itself no longer waits for anything else.

`RedisLeases` holds them in Redis for every process; `LocalLeases` holds the same
in this process's memory; `games.cluster.shared()` picks one, and the functions
at the end of this module go to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from games import cluster
from games.cluster import redis as cluster_redis

# The fence counter outlives leases (renewals refresh it) and goes with a finished
# match's checkpoint; a counter lost otherwise is rebuilt from the database's fence.
FENCE_TTL_MS = 10 * 60 * 1000

# ARGV[5]: a lease value to replace if it is still the one held ('' for none).
_CLAIM = """
if ARGV[5] ~= '' and redis.call('GET', KEYS[1]) == ARGV[5] then
  redis.call('DEL', KEYS[1])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  if token <= tonumber(ARGV[3]) then
    token = tonumber(ARGV[3]) + 1
    redis.call('SET', KEYS[2], token)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
  return token
end
return 0
"""
# 1: renewed; 0: someone else holds it; -1: nobody does (it expired, or Redis lost it).
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if held then
  return 0
end
return -1
"""
# {token, 1 if the counter was lost}, or {0}: taken, or claimed by another since.
_REESTABLISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0}
end
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
local mine = tonumber(ARGV[2])
if counter > mine then
  return {0, 0}
end
local token = mine + 1
redis.call('SET', KEYS[2], token, 'PX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[3])
if counter < mine then
  return {token, 1}
end
return {token, 0}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] == '1' then
    redis.call('DEL', KEYS[2])
  end
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Lease:
    match_id: str
    holder: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.holder}|{self.token}"


class Renewal(enum.Enum):
    RENEWED = "renewed"
    TAKEN = "taken"  # another process holds it: stop at once
    VANISHED = "vanished"  # nobody holds it: take it again with reestablish()


def _ttl_ms() -> int:
    return int(settings.MATCH_LEASE_SECONDS * 1000)


class Leases(Protocol):
    """The leases of matches; every step is atomic. Redis errors come out as
    `cluster_redis.Unavailable` (never as a lost lease)."""

    async def claim(
        self, match_id: str, holder: str, floor: int = 0, replacing: str | None = None
    ) -> Lease | None:
        """Take the lease of a match nobody runs, with a token above `floor`; None if held.
        With `replacing` (a value of `holder()`), that lease is taken over if still held."""

    async def renew(self, lease: Lease) -> Renewal:
        """Extend the lease (and the fence counter's life)."""

    async def reestablish(self, lease: Lease) -> tuple[Lease, bool] | None:
        """Take a vanished lease again with the next token: (lease, whether the counter
        was lost, and so the checkpoint with it), or None if another process claimed it since."""

    async def release(self, lease: Lease, *, match_over: bool = False) -> None:
        """Give the lease up; for a match that is over, its fence counter goes too (the
        database refuses any write to a finished match, whoever makes it)."""

    async def holder(self, match_id: str) -> str | None:
        """Who runs the match now (`host:pid:id|token`), or None."""

    async def holders(self, match_ids: list[str]) -> dict[str, str | None]:
        """`holder()` of each match, in one step."""

    async def connected(self) -> set[str] | None:
        """The holders (`host:pid:id`) whose process is connected to Redis now; None when
        that cannot be known (then only a lease's expiry says its holder is gone)."""

    def holder_sync(self, match_id: str) -> str | None:
        """Who runs the match (host:pid:id), from sync code such as the admin."""


class RedisLeases:
    """Leases in Redis, one Lua script per step: the processes of a cluster share them."""

    async def claim(
        self, match_id: str, holder: str, floor: int = 0, replacing: str | None = None
    ) -> Lease | None:
        token = await _eval(
            _CLAIM, _keys(match_id), holder, _ttl_ms(), floor, FENCE_TTL_MS, replacing or ""
        )
        return Lease(match_id, holder, int(token)) if token else None

    async def renew(self, lease: Lease) -> Renewal:
        try:
            renewed = await asyncio.wrap_future(_renewer().renew(lease))
        except cluster_redis.ERRORS as exc:
            raise cluster_redis.Unavailable(str(exc)) from exc
        if renewed == 1:
            return Renewal.RENEWED
        return Renewal.TAKEN if renewed == 0 else Renewal.VANISHED

    async def reestablish(self, lease: Lease) -> tuple[Lease, bool] | None:
        token, lost = await _eval(
            _REESTABLISH, _keys(lease.match_id), lease.holder, lease.token, _ttl_ms(), FENCE_TTL_MS
        )
        if not token:
            return None
        return Lease(lease.match_id, lease.holder, int(token)), bool(lost)

    async def release(self, lease: Lease, *, match_over: bool = False) -> None:
        await _eval(_RELEASE, _keys(lease.match_id), lease.value, "1" if match_over else "0")

    async def holder(self, match_id: str) -> str | None:
        try:
            raw = await cluster_redis.async_client().get(cluster_redis.key("lease", match_id))
        except cluster_redis.ERRORS as exc:
            raise cluster_redis.Unavailable(str(exc)) from exc
        return _text(raw)

    async def holders(self, match_ids: list[str]) -> dict[str, str | None]:
        if not match_ids:
            return {}
        names = [cluster_redis.key("lease", m) for m in match_ids]
        try:
            raws = await cluster_redis.async_client().mget(names)
        except cluster_redis.ERRORS as exc:
            raise cluster_redis.Unavailable(str(exc)) from exc
        return {m: _text(raw) for m, raw in zip(match_ids, raws, strict=True)}

    async def connected(self) -> set[str] | None:
        names = await cluster_redis.connected_names()
        if names is None:
            return None
        start = len(cluster_redis.connection_name(""))
        return {name[start:] for name in names}

    def holder_sync(self, match_id: str) -> str | None:
        raw = cluster_redis.sync_client().get(cluster_redis.key("lease", match_id))
        return holder_of(_text(raw))


# A renewal for the thread: its keys, its arguments, where its answer goes.
_Renewal = tuple[tuple[str, str], list[Any], concurrent.futures.Future[int]]


class Renewer:
    """This process's lease renewals: one thread, one Redis connection, nothing shared.

    `renew` hands a lease to the thread and returns at once; the thread sends
    every renewal waiting at that moment in one pipeline, so a hundred matches
    cost one round trip. A caller that stops waiting (cancelled) leaves the
    renewal to finish on the thread: no command is cut in the middle, and the
    connection is never left with an unread answer.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        # A renewal later than a third of the lease is late: the socket timeout says
        # so before the lease runs out (and the next renewal reconnects), and redis-py's
        # silent retries are off for the same reason.
        timeout = max(0.5, _ttl_ms() / 1000 / 3)
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=1,  # this client's own pool: the one connection, for this thread
        )
        self._script = self._client.register_script(_RENEW)
        self._waiting: queue.SimpleQueue[_Renewal] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lease-renewals", daemon=True)
        self._thread.start()

    def renew(self, lease: Lease) -> concurrent.futures.Future[int]:
        """The renewal's answer to come: 1 renewed, 0 taken, -1 vanished (or a Redis error)."""
        answer: concurrent.futures.Future[int] = concurrent.futures.Future()
        args = [lease.value, _ttl_ms(), FENCE_TTL_MS]  # read here: settings change in tests
        self._waiting.put((_keys(lease.match_id), args, answer))
        return answer

    def _run(self) -> None:
        # For the process's life (a daemon thread): it holds no state worth a shutdown.
        while True:
            batch = [self._waiting.get()]
            while not self._waiting.empty():
                batch.append(self._waiting.get())
            self._send(batch)

    def _send(self, batch: list[_Renewal]) -> None:
        # Whoever stopped waiting has its renewal dropped; the others can no longer be
        # cancelled, so their answers always land.
        batch = [item for item in batch if item[2].set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for keys, args, _ in batch:
                    self._script(keys, args, pipe)
                answers = pipe.execute()
        except Exception as exc:  # Redis's errors above all; whatever it is, no caller hangs
            for *_, answer in batch:
                answer.set_exception(exc)
            return
        for (*_, answer), renewed in zip(batch, answers, strict=True):
            answer.set_result(int(renewed))


_renewers: dict[str, Renewer] = {}
_renewers_lock = threading.Lock()


def _renewer() -> Renewer:
    """The renewal thread for REDIS_URL (one per process; tests change the URL)."""
    with _renewers_lock:
        renewer = _renewers.get(settings.REDIS_URL)
        if renewer is None:
            renewer = _renewers[settings.REDIS_URL] = Renewer(settings.REDIS_URL)
        return renewer


def _keys(match_id: str) -> tuple[str, str]:
    return cluster_redis.key("lease", match_id), cluster_redis.key("fence", match_id)


async def _eval(script: str, keys: tuple[str, ...], *args: Any) -> Any:
    try:
        return await cluster_redis.async_client().eval(script, len(keys), *keys, *args)
    except cluster_redis.ERRORS as exc:
        raise cluster_redis.Unavailable(str(exc)) from exc


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def holder_of(value: str | None) -> str | None:
    """The holder (`host:pid:id`) part of a lease's value (`host:pid:id|token`)."""
    return value.split("|", 1)[0] if value else None


class LocalLeases:
    """The same leases in this process's memory, with the same rules (tokens above the
    floor, a counter that outlives leases, expiry after MATCH_LEASE_SECONDS).

    No step awaits, so each is atomic on the event loop. A single process starts its
    runners without a lease (the runtime asks `shared().is_local`: there is nobody to
    exclude), so here nobody holds one unless a caller claims it.
    """

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}  # match -> (holder|token, expiry)
        self._counters: dict[str, tuple[int, float]] = {}  # match -> (last token, expiry)

    async def claim(
        self, match_id: str, holder: str, floor: int = 0, replacing: str | None = None
    ) -> Lease | None:
        if replacing is not None and self._value(match_id) == replacing:
            del self._held[match_id]
        if self._value(match_id) is not None:
            return None
        token = max(self._counter(match_id) + 1, floor + 1)
        lease = Lease(match_id, holder, token)
        self._hold(lease)
        return lease

    async def renew(self, lease: Lease) -> Renewal:
        held = self._value(lease.match_id)
        if held == lease.value:
            self._hold(lease)
            return Renewal.RENEWED
        return Renewal.TAKEN if held is not None else Renewal.VANISHED

    async def reestablish(self, lease: Lease) -> tuple[Lease, bool] | None:
        counter = self._counter(lease.match_id)
        if self._value(lease.match_id) is not None or counter > lease.token:
            return None
        new = Lease(lease.match_id, lease.holder, lease.token + 1)
        self._hold(new)
        return new, counter < lease.token

    async def release(self, lease: Lease, *, match_over: bool = False) -> None:
        if self._value(lease.match_id) == lease.value:
            del self._held[lease.match_id]
            if match_over:
                self._counters.pop(lease.match_id, None)

    async def holder(self, match_id: str) -> str | None:
        return self._value(match_id)

    async def holders(self, match_ids: list[str]) -> dict[str, str | None]:
        return {m: self._value(m) for m in match_ids}

    async def connected(self) -> set[str] | None:
        return None  # one process: no other holder to tell dead from alive

    def holder_sync(self, match_id: str) -> str | None:
        return holder_of(self._value(match_id))

    def _hold(self, lease: Lease) -> None:
        now = time.monotonic()
        self._held[lease.match_id] = (lease.value, now + _ttl_ms() / 1000)
        self._counters[lease.match_id] = (lease.token, now + FENCE_TTL_MS / 1000)

    def _value(self, match_id: str) -> str | None:
        held = self._held.get(match_id)
        return held[0] if held and held[1] > time.monotonic() else None

    def _counter(self, match_id: str) -> int:
        counter = self._counters.get(match_id)
        return counter[0] if counter and counter[1] > time.monotonic() else 0


# The runtime's calls, to the implementation `games.cluster.shared()` picked.


async def claim(
    match_id: str, holder: str, floor: int = 0, replacing: str | None = None
) -> Lease | None:
    """Take the lease of a match nobody runs, with a token above `floor`; None if held.
    With `replacing`, that lease value is taken over if it is still the one held."""
    return await cluster.shared().leases.claim(match_id, holder, floor, replacing)


async def renew(lease: Lease) -> Renewal:
    """Extend the lease (and the fence counter's life); Unavailable without Redis."""
    return await cluster.shared().leases.renew(lease)


async def reestablish(lease: Lease) -> tuple[Lease, bool] | None:
    """Take a vanished lease again with the next token (see `Leases.reestablish`)."""
    return await cluster.shared().leases.reestablish(lease)


async def release(lease: Lease, *, match_over: bool = False) -> None:
    """Give the lease up (see `Leases.release`)."""
    await cluster.shared().leases.release(lease, match_over=match_over)


async def holder(match_id: str) -> str | None:
    """Who runs the match now (`host:pid:id|token`), or None."""
    return await cluster.shared().leases.holder(match_id)


async def holders(match_ids: list[str]) -> dict[str, str | None]:
    """Who runs each of the matches now, in one step."""
    return await cluster.shared().leases.holders(match_ids)


async def connected() -> set[str] | None:
    """The holders whose process is connected to Redis now, or None if unknowable."""
    return await cluster.shared().leases.connected()


def holder_sync(match_id: str) -> str | None:
    """Who runs the match (host:pid:id), from sync code such as the admin."""
    return cluster.shared().leases.holder_sync(match_id)
