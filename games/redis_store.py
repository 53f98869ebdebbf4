"""Redis clients for the game server's own keys (tickets, leases), when REDIS_URL is set.

Async clients are bound to the event loop that created them, so there is one
per loop. Like the channel layer, they set socket_timeout explicitly: redis-py
8's default of 5 s is shorter than some of our blocking calls.
"""

from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio as aredis
from django.conf import settings

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = (
    weakref.WeakKeyDictionary()
)
_sync_client: redis.Redis | None = None
POOL_WAIT_SECONDS = 10


def enabled() -> bool:
    return bool(settings.REDIS_URL)


def key(*parts: object) -> str:
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])


def async_client() -> aredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # A blocking pool: past its size a command waits for a free connection
        # (up to POOL_WAIT_SECONDS) instead of failing with "Too many connections".
        pool = aredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=POOL_WAIT_SECONDS,
            socket_timeout=10,
        )
        client = aredis.Redis.from_pool(pool)
        _async_clients[loop] = client
    return client


def sync_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
    return _sync_client
