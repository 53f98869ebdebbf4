"""Checkpoints of live matches in Redis, so another process can adopt a match whose
process died.

A checkpoint is the engine state plus the seats, written at least once a second
(and after every move in turn-based games); the input log is appended to a
Redis list as it grows, one element per checkpoint holding the entries since
the last, so a checkpoint costs one round trip and a handful of Redis
commands whatever the match's length or its number of players. Writes are
fenced: a Lua script stores them only while the writer still holds the match's
lease.

Redis errors come out as `cluster_redis.Unavailable`, never as a lost lease: the
runner keeps going and saves again when Redis is back.
"""

from __future__ import annotations

from typing import Any

import msgspec

from games.cluster import redis as cluster_redis
from games.cluster.leases import Lease

# Long enough to outlive any failover; a finished match deletes its checkpoint at once.
CHECKPOINT_TTL_MS = 10 * 60 * 1000

_SAVE = """
local held = redis.call('GET', KEYS[1])
if held ~= ARGV[1] then
  if held then
    return 0
  end
  return -1
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if ARGV[4] then
  redis.call('RPUSH', KEYS[3], ARGV[4])
end
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
"""


def _keys(match_id: str) -> tuple[str, str, str]:
    return (
        cluster_redis.key("lease", match_id),
        cluster_redis.key("checkpoint", match_id),
        cluster_redis.key("checkpoint-log", match_id),
    )


async def save(lease: Lease, payload: dict[str, Any], new_log: list[list[Any]]) -> bool | None:
    """Store a checkpoint and the log entries since the last one; False if another process
    holds the lease, None if nobody does (it vanished: the runner may take it again).

    Raises Unavailable if Redis could not be reached (nothing, or all, was stored).
    """
    lease_key, state_key, log_key = _keys(lease.match_id)
    chunk = [msgspec.msgpack.encode(new_log)] if new_log else []
    script = cluster_redis.async_client().register_script(_SAVE)  # EVALSHA, not the text
    try:
        stored = await script(
            keys=[lease_key, state_key, log_key],
            args=[lease.value, msgspec.msgpack.encode(payload), CHECKPOINT_TTL_MS, *chunk],
        )
    except cluster_redis.ERRORS as exc:
        raise cluster_redis.Unavailable(str(exc)) from exc
    return None if stored == -1 else bool(stored)


async def load(match_id: str) -> tuple[dict[str, Any], list[list[Any]]] | None:
    """The last checkpoint of a match and its whole input log, or None."""
    _, state_key, log_key = _keys(match_id)
    client = cluster_redis.async_client()
    raw = await client.get(state_key)
    if raw is None:
        return None
    log: list[list[Any]] = []
    for element in await client.lrange(log_key, 0, -1):
        chunk = msgspec.msgpack.decode(_bytes(element))
        # A chunk is a list of entries; a process of an older release wrote one entry each.
        log += chunk if chunk and isinstance(chunk[0], list) else [chunk]
    payload: dict[str, Any] = msgspec.msgpack.decode(_bytes(raw))
    return payload, log


async def exists(match_id: str) -> bool:
    """Whether a checkpoint of the match is in Redis (Unavailable without Redis)."""
    try:
        return bool(await cluster_redis.async_client().exists(_keys(match_id)[1]))
    except cluster_redis.ERRORS as exc:
        raise cluster_redis.Unavailable(str(exc)) from exc


async def delete(match_id: str) -> None:
    """Forget a finished match's checkpoint (Unavailable without Redis; it expires anyway)."""
    _, state_key, log_key = _keys(match_id)
    try:
        await cluster_redis.async_client().delete(state_key, log_key)
    except cluster_redis.ERRORS as exc:
        raise cluster_redis.Unavailable(str(exc)) from exc


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()
