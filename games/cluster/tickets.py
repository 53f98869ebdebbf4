"""Short-lived, single-use tickets that let non-browser clients open a match socket.

An authenticated HTTP request mints a ticket bound to one user and one match;
the client passes it as ?ticket=... when it connects, and the consumer redeems
it once. A ticket is never a session id and is worthless after 30 seconds or
one use. `RedisTickets` keeps them in Redis (any process can redeem one),
`LocalTickets` in this process's memory (the only process, without REDIS_URL);
`games.cluster.shared()` picks one, and `issue` and `redeem` below go to it.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Protocol

from games import cluster
from games.cluster import redis as cluster_redis

TICKET_SECONDS = 30


class Tickets(Protocol):
    def issue(self, user_id: int, match_id: str) -> str:
        """Mint a ticket for `user_id` to connect to `match_id` (from sync views)."""

    async def redeem(self, ticket: str, match_id: str) -> int | None:
        """The user id of a valid ticket for `match_id`, consuming it; None otherwise."""


class RedisTickets:
    """Tickets in Redis, each a key that expires: a ticket minted behind one process is
    redeemed by whichever process the client's socket reaches."""

    def issue(self, user_id: int, match_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        cluster_redis.sync_client().set(
            cluster_redis.key("ticket", ticket), _value(user_id, match_id), ex=TICKET_SECONDS
        )
        return ticket

    async def redeem(self, ticket: str, match_id: str) -> int | None:
        raw = await cluster_redis.async_client().getdel(cluster_redis.key("ticket", ticket))
        return _user_for(raw.decode() if isinstance(raw, bytes) else raw, match_id)


class LocalTickets:
    """Tickets in this process's memory. Views mint them on Django's threads and sockets
    redeem them on the event loop, hence the lock."""

    def __init__(self) -> None:
        self._tickets: dict[str, tuple[float, str]] = {}  # ticket -> (expiry, value)
        self._lock = threading.Lock()

    def issue(self, user_id: int, match_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            self._tickets[ticket] = (time.monotonic() + TICKET_SECONDS, _value(user_id, match_id))
        return ticket

    async def redeem(self, ticket: str, match_id: str) -> int | None:
        with self._lock:
            self._expire()
            entry = self._tickets.pop(ticket, None)
        return _user_for(entry[1] if entry else None, match_id)

    def _expire(self) -> None:
        now = time.monotonic()
        for ticket in [t for t, (expires, _) in self._tickets.items() if expires <= now]:
            del self._tickets[ticket]


def _value(user_id: int, match_id: str) -> str:
    return f"{user_id}:{match_id}"


def _user_for(value: str | None, match_id: str) -> int | None:
    if value is None:
        return None
    user_id, _, ticket_match = value.partition(":")
    return int(user_id) if ticket_match == str(match_id) else None


def issue(user_id: int, match_id: str) -> str:
    """Mint a ticket for `user_id` to connect to `match_id` (called from sync views)."""
    return cluster.shared().tickets.issue(user_id, match_id)


async def redeem(ticket: str, match_id: str) -> int | None:
    """The user id of a valid ticket for `match_id`, consuming it; None otherwise."""
    return await cluster.shared().tickets.redeem(ticket, match_id)
