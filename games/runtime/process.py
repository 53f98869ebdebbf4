"""The runtime of one server process: what every match, socket and feed of it shares.

Every server process has one (`get_runtime()`). It holds what is process-wide
(the holder id its leases carry, whether it drains, the bot-thinking thread)
and wires the parts that do the work:

- `runners` (runners.py): which matches this process runs, their leases,
  adoption from a checkpoint, the watchdog, release;
- `routing` (routing.py): a socket's operation to its runner, here or over
  Redis, batching lossy inputs and holding the others while Redis is away;
- `local` and `fanout` (fanout.py): this process's match sockets and its one
  pub/sub connection, through which runners reach sockets;
- `lobby`, `matchmaking`, `presence` and `cleanup`.

It also keeps the sockets' bookkeeping (attach, detach), the recovery after a
Redis outage, the drain and the shutdown.

May import: the rest of `games.runtime`, `games.cluster`, and `games.matchmaking`
(the one module of the runtime that does: it wires the matcher). Imported by
the sockets, the drain and the health check; never by the parts it wires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

from games.cluster import presence, shared
from games.cluster import redis as cluster_redis
from games.matchmaking import Matchmaker
from games.runtime import census, routing
from games.runtime.cleanup import Cleanup
from games.runtime.fanout import Fanout, LocalSockets, receive_states
from games.runtime.lobby_feed import LobbyFeed
from games.runtime.match import ops
from games.runtime.match.runner import MatchRunner
from games.runtime.runners import RunnerRegistry

logger = logging.getLogger(__name__)

# Tries to join one socket's group again after an outage (the first may meet a dead
# pooled connection); the next outage's recovery tries again anyway.
REGISTER_ATTEMPTS = 4


class ProcessRuntime:
    def __init__(self) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: set[asyncio.Task[None]] = set()
        # Matches with sockets in this process, and how many: the watchdog's list.
        self.attached: dict[str, int] = {}
        self.local = LocalSockets()  # this process's match sockets: fan-out, drain
        # Pub/sub, for per-tick traffic between processes; None without Redis.
        self.fanout = None if shared().is_local else Fanout(self._recovered, self.holder)
        self._fanout: asyncio.Task[None] | None = None
        self.draining = False
        # Where turn-based bots think (a hard Connect Four move is tens of milliseconds of
        # search): one thread of its own, so the loop's ticks never wait for it. Not the
        # ORM's thread (database_sync_to_async), which sockets wait on while connecting.
        self.thinking = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-thinking")
        self.registry = RunnerRegistry(
            self.holder,
            local=self.local,
            fanout=self.fanout,
            attached=self.attached,
            thinking=self.thinking,
            draining=lambda: self.draining,
            spawn=self._spawn,
            on_start=self._runner_started,
        )
        self.routing = routing.Router(self.registry, self.fanout, self._spawn)
        self.presence = presence.LocalPresence()
        self.lobby = LobbyFeed(self.presence)
        self.matchmaking = Matchmaker()
        self.cleanup = Cleanup()  # what closed sockets left in Redis
        self.census = census.Census(self)  # this process's record for the operators' console

    @property
    def runners(self) -> dict[str, MatchRunner]:
        """The runners of this process, by match id."""
        return self.registry.runners

    def post(self, match_id: str, op: ops.Operation, *, lossy: bool = False) -> Awaitable[None]:
        """Deliver an operation to the match's runner, starting one here if nobody runs
        it (see `routing.Router.post`)."""
        return self.routing.post(match_id, op, lossy=lossy)

    def attach(self, match_id: str, consumer: Any) -> None:
        """A socket of this process joined the match: watch that someone runs it."""
        self.attached[match_id] = self.attached.get(match_id, 0) + 1
        self.local.add(consumer)
        if self.fanout is not None and (self._fanout is None or self._fanout.done()):
            self._fanout = asyncio.get_running_loop().create_task(
                receive_states(self.fanout, self.local)
            )
        if not shared().is_local:
            self.registry.watch()

    def registrations(self) -> dict[str, int]:
        """How many sockets each registry here holds (the metrics' leak gauge)."""
        runners = list(self.runners.values())
        return {
            "supervisor": len(self.local.by_channel),
            "supervisor_matches": len(self.attached),
            "runner_seats": sum(
                1 for r in runners for s in list(r.roster.seats.values()) if s.channel
            ),
            "runner_spectators": sum(len(r.roster.spectators) for r in runners),
            "lobby": len(self.lobby.sockets),
            "matchmaking": len(self.matchmaking.local),
            "presence": len(self.presence.connections),
            "cleanup_pending": self.cleanup.pending,
        }

    def detach(
        self, match_id: str, consumer: Any, leave: ops.Leave | None = None
    ) -> Callable[[], Awaitable[object]] | None:
        """The socket is gone: forget it here, and hand its `leave` to the match's runner.

        A runner of this process gets the leave at once. For one elsewhere, the
        send is returned for the caller to run (and retry). A leave never starts
        a runner: a runner that starts later finds every seat disconnected anyway.
        """
        self.local.remove(consumer)
        left = self.attached.get(match_id, 0) - 1
        if left > 0:
            self.attached[match_id] = left
        else:
            self.attached.pop(match_id, None)
        if leave is None:
            return None
        return self.routing.leave(match_id, leave)

    async def drain(self, close_code: int) -> None:
        """Hand every match of this process over and close its sockets (SIGTERM, deploys).

        Runners stop after a final checkpoint and release their leases, so other
        processes adopt the matches at once; sockets are closed with `close_code`
        so clients reconnect (to another process, behind a load balancer).
        """
        self.draining = True
        if self.registry.watchdog is not None:
            self.registry.watchdog.cancel()
        await self.matchmaking.drain()  # its lobby sockets are about to be cut
        handed_over = await self.registry.hand_over()
        sockets = list(self.local.by_channel.values())
        for consumer in sockets:
            await consumer.refuse_for_restart(close_code)
        logger.info("drained %d matches and %d sockets", handed_over, len(sockets))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _runner_started(self, runner: MatchRunner, layer: BaseChannelLayer) -> None:
        self.routing.listen(runner, layer)

    def _recovered(self) -> None:
        """Redis answers again (called by the fan-out once it has re-subscribed).

        Runners renew (or take again) their leases now; nobody adopts a match
        that had a runner for a lease length; every socket of this process joins
        its groups again (a Redis restarted empty lost them, and with them the
        results and aborts announced to the groups) and presence is republished.
        """
        self.registry.recovered()
        self._spawn(self._register_again())

    async def _register_again(self) -> None:
        layer = get_channel_layer()
        assert layer is not None
        sockets = [*self.local.by_channel.values(), *self.lobby.sockets]
        memberships = 0
        for consumer in sockets:
            for group in list(getattr(consumer, "groups", [])):
                for attempt in range(REGISTER_ATTEMPTS):
                    try:
                        await layer.group_add(group, consumer.channel_name)
                        if group not in consumer.groups:
                            # The socket ended while this add waited, and its own removal
                            # may have landed first: remove it again, after the add.
                            await layer.group_discard(group, consumer.channel_name)
                        break
                    except cluster_redis.ERRORS as exc:  # a pooled connection the outage killed
                        cluster_redis.outage.failed("joining groups again", exc)
                        await asyncio.sleep(routing.RETRY_SECONDS * attempt)  # a retry backoff
                memberships += 1
        await self.presence.republish()
        logger.warning(
            "after the Redis outage: %d sockets joined their %d groups again; runners here: %s",
            len(sockets),
            memberships,
            ", ".join(sorted(self.runners)) or "none",
        )

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every runner here and wait for their tasks (and helper tasks) to end."""
        for runner in list(self.runners.values()):
            runner.stop()
        runner_tasks = [r.task for r in self.runners.values() if r.task is not None]
        if runner_tasks:
            await asyncio.wait(runner_tasks, timeout=timeout)
        self.presence.stop()
        self.lobby.stop()
        self.matchmaking.stop()
        self.cleanup.stop()
        self.census.stop()
        if self.fanout is not None:
            self.fanout.stop()
        for helper in (self.registry.watchdog, self._fanout):
            if helper is not None:
                helper.cancel()
                self._tasks.add(helper)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


_runtime: ProcessRuntime | None = None


def current() -> ProcessRuntime | None:
    """This process's runtime if it has one (for the metrics; never creates one)."""
    return _runtime


def get_runtime() -> ProcessRuntime:
    global _runtime
    if _runtime is None:
        _runtime = ProcessRuntime()
    # Called for every input frame: what is already running costs two attribute checks.
    _runtime.census.start()  # with a running loop only: the heartbeat runs on it
    if _runtime.fanout is not None and not _runtime.fanout.running:
        # Its connection also tells the process that Redis is back after an outage.
        with contextlib.suppress(RuntimeError):  # no event loop: sync code (views, admin)
            asyncio.get_running_loop()
            _runtime.fanout.start()
    return _runtime


def reset_for_tests() -> None:
    """Forget every runner; only for tests, whose event loops end with each test."""
    assert os.environ.get("PYTEST_CURRENT_TEST"), "reset_for_tests() is for tests only"
    global _runtime
    if _runtime is not None:
        for runner in list(_runtime.runners.values()):
            runner.stop()
        if _runtime.fanout is not None:
            _runtime.fanout.stop()
        _runtime.census.stop()
    _runtime = None
    presence.reset_for_tests()
    census.reset_for_tests()
