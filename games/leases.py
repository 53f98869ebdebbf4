"""Match leases in Redis: at most one process runs a match, and each run has a fencing token.

A lease is `SET lease:<match> <holder>:<token> NX PX <ttl>`, taken in one Lua
script together with `INCR fence:<match>`, so every successful claim gets a
token larger than any before it. The holder renews it (compare-and-PEXPIRE)
and releases it (compare-and-DEL); it never touches a lease it does not hold.
The token goes with every database write of the runner (`Match.runner_fence`),
so a runner that was paused past its lease cannot overwrite its successor.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from games import redis_store

_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
  return token
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
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


def _ttl_ms() -> int:
    return int(settings.MATCH_LEASE_SECONDS * 1000)


async def claim(match_id: str, holder: str) -> Lease | None:
    """Take the lease of a match nobody runs; None if someone holds it."""
    client = redis_store.async_client()
    token = await client.eval(
        _CLAIM,
        2,
        redis_store.key("lease", match_id),
        redis_store.key("fence", match_id),
        holder,
        _ttl_ms(),
    )
    return Lease(match_id, holder, int(token)) if token else None


async def renew(lease: Lease) -> bool:
    """Extend the lease; False means it expired or was taken: stop at once."""
    client = redis_store.async_client()
    renewed = await client.eval(
        _RENEW, 1, redis_store.key("lease", lease.match_id), lease.value, _ttl_ms()
    )
    return bool(renewed)


async def release(lease: Lease) -> None:
    client = redis_store.async_client()
    await client.eval(_RELEASE, 1, redis_store.key("lease", lease.match_id), lease.value)


async def holder(match_id: str) -> str | None:
    """Who runs the match now (`host:pid:id|token`), or None."""
    raw = await redis_store.async_client().get(redis_store.key("lease", match_id))
    return _text(raw)


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def holder_sync(match_id: str) -> str | None:
    """Who runs the match (host:pid:id), from sync code such as the admin."""
    if not redis_store.enabled():
        return None
    raw = redis_store.sync_client().get(redis_store.key("lease", match_id))
    value = _text(raw)
    return value.split("|", 1)[0] if value else None
