"""Short-lived, single-use tickets that let non-browser clients open a match socket.

An authenticated HTTP request mints a ticket bound to one user and one match;
the client passes it as ?ticket=... when it connects, and the consumer redeems
it once. A ticket is never a session id and is worthless after 30 seconds or
one use. Stored in Redis when REDIS_URL is set (any process can redeem it),
otherwise in this process's memory.
"""

from __future__ import annotations

import secrets
import threading
import time

from games.cluster import redis as cluster_redis

TICKET_SECONDS = 30

_local: dict[str, tuple[float, str]] = {}
_local_lock = threading.Lock()


def issue(user_id: int, match_id: str) -> str:
    """Mint a ticket for `user_id` to connect to `match_id` (called from sync views)."""
    ticket = secrets.token_urlsafe(24)
    value = f"{user_id}:{match_id}"
    if cluster_redis.enabled():
        cluster_redis.sync_client().set(
            cluster_redis.key("ticket", ticket), value, ex=TICKET_SECONDS
        )
    else:
        with _local_lock:
            _expire_local()
            _local[ticket] = (time.monotonic() + TICKET_SECONDS, value)
    return ticket


async def redeem(ticket: str, match_id: str) -> int | None:
    """The user id of a valid ticket for `match_id`, consuming it; None otherwise."""
    if cluster_redis.enabled():
        raw = await cluster_redis.async_client().getdel(cluster_redis.key("ticket", ticket))
        value = raw.decode() if isinstance(raw, bytes) else raw
    else:
        with _local_lock:
            _expire_local()
            entry = _local.pop(ticket, None)
        value = entry[1] if entry else None
    if value is None:
        return None
    user_id, _, ticket_match = value.partition(":")
    return int(user_id) if ticket_match == str(match_id) else None


def _expire_local() -> None:
    now = time.monotonic()
    for ticket in [t for t, (expires, _) in _local.items() if expires <= now]:
        del _local[ticket]
