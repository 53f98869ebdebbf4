"""What a closed socket leaves in Redis, removed with bounded concurrency and retries.

When a socket ends, its registrations inside this process (supervisor, runner,
lobby, presence list) go at once, without I/O. What it left in Redis (group
memberships, its presence entry, its place in a queue, a `leave` for a runner
on another process) is removed here, by at most CONCURRENCY workers per
process. A thousand sockets dropping at once therefore never ask the
connection pools for a thousand connections (channels-redis refuses the one
past its pool's size with MaxConnectionsError), and a removal that fails
(Redis away, a pool full, a runner's queue full) is retried with backoff
until it succeeds. After GIVE_UP_SECONDS of failures it is dropped with a
log line: by then each entry's own expiry removes it (presence after
PRESENCE_TTL_SECONDS, a queue place after MATCHMAKING_TTL_SECONDS, a group
membership after the channel layer's group_expiry).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Redis commands in flight for cleanup at once, per process: far below every pool's size.
CONCURRENCY = 16
# Retry backoff: doubles from the first delay up to the last.
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 2.0
GIVE_UP_SECONDS = 300.0

Job = Callable[[], Awaitable[object]]


@dataclass
class _Removal:
    what: str  # in words, for the log
    job: Job
    since: float
    done: asyncio.Future[None]
    delay: float = field(default=FIRST_RETRY_SECONDS)


class Cleanup:
    """This process's queue of removals from Redis, worked off by a few tasks."""

    def __init__(self) -> None:
        self._queue: deque[_Removal] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._retrying: dict[int, asyncio.TimerHandle] = {}  # by id of the removal
        self._failing = 0  # removals that failed since the last success (for the log)

    @property
    def pending(self) -> int:
        """Removals not done yet: queued, running or waiting to be retried."""
        return len(self._queue) + len(self._workers) + len(self._retrying)

    def submit(self, what: str, job: Job) -> asyncio.Future[None]:
        """Run `job` until it succeeds; the future is done when it has (or was given up)."""
        loop = asyncio.get_running_loop()
        removal = _Removal(what, job, loop.time(), loop.create_future())
        self._queue.append(removal)
        self._wake()
        return removal.done

    def _wake(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and len(self._workers) < CONCURRENCY:
            task = loop.create_task(self._work())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        while self._queue:
            removal = self._queue.popleft()
            try:
                await removal.job()
            except Exception as exc:
                self._failed(removal, exc)
            else:
                self._succeeded(removal)

    def _succeeded(self, removal: _Removal) -> None:
        if self._failing:
            logger.warning("socket cleanup works again after %d failed attempts", self._failing)
            self._failing = 0
        if not removal.done.done():
            removal.done.set_result(None)

    def _failed(self, removal: _Removal, exc: Exception) -> None:
        loop = asyncio.get_running_loop()
        if not self._failing:  # once per spell of failures, not once per socket
            logger.warning("socket cleanup failed (%s: %s); retrying", type(exc).__name__, exc)
        self._failing += 1
        if loop.time() - removal.since > GIVE_UP_SECONDS:
            logger.error("gave up removing %s from Redis; it expires on its own", removal.what)
            if not removal.done.done():
                removal.done.set_result(None)
            return
        self._retrying[id(removal)] = loop.call_later(removal.delay, self._retry, removal)
        removal.delay = min(removal.delay * 2, MAX_RETRY_SECONDS)

    def _retry(self, removal: _Removal) -> None:
        del self._retrying[id(removal)]
        self._queue.append(removal)
        self._wake()

    def stop(self) -> None:
        """Shutting down: drop what is left (each entry expires on its own)."""
        for handle in self._retrying.values():
            handle.cancel()
        self._retrying.clear()
        self._queue.clear()
        for task in self._workers:
            task.cancel()
