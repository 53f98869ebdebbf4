"""Redis clients for the game server's own keys (tickets, leases), when REDIS_URL is set.

Async clients are bound to the event loop that created them, so there is one
per loop. Like the channel layer, they set socket_timeout explicitly: redis-py
8's default of 5 s is shorter than some of our blocking calls.

Redis may go away for a while (a network cut, a restart). Every caller turns
the client's errors into `Unavailable` or handles `ERRORS` itself, and reports
them through `outage`, which logs the first failure of an outage and the
recovery once per process, whatever the number of sockets and matches that
noticed: an outage of a few seconds must not print a traceback per frame.

Each process names its long-lived pub/sub connection after the holder id its
leases carry (`connection_name`), and `connected_names` lists the names Redis
knows now: a process killed or crashed loses its connections at once (its
kernel closes them), while a slow one keeps them, so another process can tell
a dead lease holder from a late one (games/runtime/runners.py). A Redis that
refuses CLIENT SETNAME or CLIENT LIST (some managed services) is told once in
the log; leases then end only when they expire.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref

import redis
import redis.asyncio as aredis
from django.conf import settings

logger = logging.getLogger(__name__)

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = (
    weakref.WeakKeyDictionary()
)
_sync_client: redis.Redis | None = None
POOL_WAIT_SECONDS = 10
# What a Redis client raises when the server is unreachable, restarting or too slow.
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class Unavailable(Exception):
    """Redis could not be reached; nothing was stored, and the caller may retry later."""


# Either: for callers that reach Redis both directly and through our own helpers.
FAILURES: tuple[type[BaseException], ...] = (*ERRORS, Unavailable)


def key(*parts: object) -> str:
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])


# Redis refuses a client name with a space or any byte outside '!'..'~'.
_UNNAMEABLE = re.compile(r"[^!-~]")
# (REDIS_URL, subcommand) of the CLIENT subcommands refused: logged once, never asked again.
_refused: set[tuple[str, str]] = set()


def connection_name(holder: str) -> str:
    """The name of the connection that tells other processes this holder's process lives."""
    return _UNNAMEABLE.sub("_", f"arcade:{settings.REDIS_PREFIX}:{holder}")


async def name_connection(connection: aredis.connection.AbstractConnection, holder: str) -> bool:
    """CLIENT SETNAME on a fresh connection; False (logged once) if this Redis refuses it.

    Sent on the connection itself, after each connect, rather than with redis-py's
    `client_name` option: with that option a refused SETNAME fails the connection.
    """
    await connection.send_command("CLIENT", "SETNAME", connection_name(holder))
    try:
        await connection.read_response()
    except redis.ResponseError as exc:
        _refusal("SETNAME", exc)
        return False
    return True


async def connected_names() -> set[str] | None:
    """The names of this deployment's pub/sub connections now, one per live process (see
    `connection_name`); None if this Redis refuses CLIENT LIST (logged once, never asked again).

    One CLIENT LIST TYPE pubsub: Redis walks every client but writes only the pub/sub
    ones, a line per server process, whatever the number of sockets and matches.
    """
    if (settings.REDIS_URL, "LIST") in _refused:
        return None
    try:
        clients = await async_client().client_list(_type="pubsub")
    except redis.ResponseError as exc:
        _refusal("LIST", exc)
        return None
    except ERRORS as exc:
        raise Unavailable(str(exc)) from exc
    start = connection_name("")
    return {c["name"] for c in clients if c.get("name", "").startswith(start)}


def _refusal(subcommand: str, error: BaseException) -> None:
    if (settings.REDIS_URL, subcommand) not in _refused:
        _refused.add((settings.REDIS_URL, subcommand))
        logger.warning(
            "Redis refuses CLIENT %s (%s): processes cannot tell whether another one is "
            "connected, so the matches of a process that died are adopted only when their "
            "leases expire (MATCH_LEASE_SECONDS), not at once",
            subcommand,
            error,
        )


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


def forget_sync_client() -> None:
    """REDIS_URL changed (tests): the next `sync_client()` connects to the new one."""
    global _sync_client
    _sync_client = None


class Outage:
    """This process's view of Redis: up, or down since when (for the log, once each way).

    The fan-out's connection (games/runtime/fanout.py) is the probe: it says when Redis
    is lost and when it is back. A failure while the probe is up is a pooled
    connection that died in an earlier outage failing once as it is used again,
    not a new outage.
    """

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failures = 0  # in the current outage
        self.probe_up = False
        # Since the process started, for the metrics (games/runtime/metrics.py).
        self.failures_total = 0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, what: str, error: BaseException) -> None:
        """An operation failed for want of Redis: log the first of the outage only."""
        self.failures += 1
        self.failures_total += 1
        if self.probe_up:
            logger.debug("%s failed on a stale connection: %r", what, error)
            return
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            logger.warning(
                "Redis unreachable (%s: %s): this process keeps its sockets and matches "
                "running and retries; first noticed by %s",
                type(error).__name__,
                error,
                what,
            )

    def probe_lost(self, error: BaseException) -> None:
        self.probe_up = False
        self.failed("the pub/sub fan-out", error)

    def recovered(self, what: str) -> float | None:
        """Redis answered the probe: log how long it was away; the outage's length, or None."""
        self.probe_up = True
        if self.down_since is None:
            return None
        length = time.monotonic() - self.down_since
        logger.warning(
            "Redis reachable again after %.1f s (%d operations failed meanwhile; noticed by %s)",
            length,
            self.failures,
            what,
        )
        self.down_since, self.failures = None, 0
        return length


outage = Outage()
