"""Liveness and readiness for load balancers, nginx and systemd: /healthz and /readyz.

/healthz answers 200 as long as the process answers at all. /readyz answers 200
when the database answers a query, Redis answers PING (when REDIS_URL is set) and
the process is not draining for a shutdown, and 503 with the reasons otherwise.

Both are answered by a middleware at the top of the stack, before Django's own:
- a load balancer polls an instance by its address, so the Host header is an IP
  that ALLOWED_HOSTS rightly refuses (CommonMiddleware answers 400), and over plain
  HTTP, which SECURE_SSL_REDIRECT would redirect; nothing in the answer depends on
  the host or the scheme, so neither check protects anything here;
- a poll every second from every balancer must cost next to nothing: no session,
  CSP or static-file lookups.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aredis
from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from games.runtime import metrics

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
# Each check gives up after this long: a balancer's own timeout is a few seconds,
# and a dependency slower than this is as bad as an unreachable one.
CHECK_TIMEOUT_SECONDS = 2.0

# The database check runs on a thread of its own, not on the thread every ORM call
# of the process shares: a poll must not wait behind a match's writes, and a hung
# database connection must not hold the game's thread for the poll's sake.
_database_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
# One client per event loop (an async client is bound to its loop), with the URL it is for.
_redis_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[str, aredis.Redis | None]
] = weakref.WeakKeyDictionary()
_database_pending: asyncio.Future[None] | None = None
_last_reasons: list[str] = []

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HealthCheckMiddleware:
    """Answers /healthz and /readyz itself; passes every other request on."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVENESS_PATH:
            return _answer(200, {"status": "ok"})
        if request.path == READINESS_PATH:
            reasons = await readiness_problems()
            _log_change(reasons)
            if reasons:
                return _answer(503, {"status": "unavailable", "reasons": reasons})
            return _answer(200, {"status": "ready"})
        return await self.get_response(request)


async def readiness_problems() -> list[str]:
    """Why this process should get no new players now; empty when it is ready."""
    database, redis_problem = await asyncio.gather(_check_database(), _check_redis())
    reasons = [reason for reason in (database, redis_problem) if reason]
    if _draining():
        reasons.append("draining")
    return reasons


def _draining() -> bool:
    # The one place that asks the runtime. current() never creates a supervisor: a
    # process that has run no match yet is not draining (SIGTERM creates it to drain).
    from games.runtime.process import current

    supervisor = current()
    return supervisor is not None and supervisor.draining


async def _check_database() -> str | None:
    try:
        await asyncio.wait_for(asyncio.shield(_database_query()), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        metrics.database_failed("readiness")
        return "database: no answer within 2 s"
    except Exception as error:
        metrics.database_failed("readiness")
        logger.debug("readiness: database check failed", exc_info=error)
        return "database: unreachable"
    return None


def _database_query() -> asyncio.Future[None]:
    """The query in flight, or a new one: polls never queue up behind a hung one.

    A query that waits for the pool (up to DATABASE_POOL_TIMEOUT) or a connect timeout
    outlives the poll that started it; the next polls wait for the same query instead
    of piling more onto the check's one thread.
    """
    global _database_pending
    loop = asyncio.get_running_loop()
    pending = _database_pending
    if pending is None or pending.done() or pending.get_loop() is not loop:
        pending = _database_pending = loop.run_in_executor(_database_thread, _query_database)
    return pending


def _query_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # Back to the pool (PostgreSQL) or closed: a connection kept here would
        # break unnoticed when the database restarts.
        connection.close()


async def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return None
    try:
        await asyncio.wait_for(_redis_client().ping(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "redis: no answer within 2 s"
    except Exception as error:
        logger.debug("readiness: redis check failed", exc_info=error)
        return "redis: unreachable"
    return None


def _redis_client() -> aredis.Redis:
    # A connection of the check's own, so a pool exhausted by the game's traffic
    # cannot hide that Redis itself answers (and the check never takes from it).
    loop = asyncio.get_running_loop()
    url, client = _redis_clients.get(loop, ("", None))
    if client is None or url != settings.REDIS_URL:
        client = aredis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
            max_connections=2,
        )
        _redis_clients[loop] = (settings.REDIS_URL, client)
    return client


def _log_change(reasons: list[str]) -> None:
    """One line when readiness changes, not one per poll (a poll every second per balancer)."""
    global _last_reasons
    if reasons == _last_reasons:
        return
    if reasons:
        logger.warning("not ready: %s", ", ".join(reasons))
    else:
        logger.warning("ready again")
    _last_reasons = reasons


def _answer(status: int, body: dict[str, object]) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    # Django logs every 5xx answer ("Service Unavailable: /readyz"), which would be
    # a line per poll for as long as an outage lasts; _log_change logs the change.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
