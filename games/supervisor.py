"""The match supervisor of one daphne process: starts, finds and stops match runners.

Every daphne process has one. When a socket connects to a match that nobody
runs, the supervisor of that socket's process claims the match (a Redis lease
with a fencing token when REDIS_URL is set; this process's memory otherwise)
and starts its runner here. Consumers in the same process hand operations to
the runner directly, with no thread hop and no Redis round trip; consumers in
other processes send them to the runner's channel, which the runner's process
reads and posts locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from games import checkpoints, events, leases, presence, redis_store
from games.cleanup import Cleanup
from games.lobby import LobbyHub
from games.matchmaking import MatchmakingHub
from games.runner import MatchRunner
from games.storage import DatabaseStore
from games.transport import FanoutTransport, LocalSockets

logger = logging.getLogger(__name__)

# After finding that another process runs a match, trust that for this long before asking again.
REMOTE_CACHE_SECONDS = 2.0
# Inputs for a runner in another process are published together, at most once per this
# period per match: Redis then carries at most two messages per match, process and tick
# (at 20 Hz), whatever the number of players. Runners read their inbox once a tick,
# so this adds 12 ms on average to inputs from sockets on another process.
BATCH_SECONDS = 0.025


class MatchSupervisor:
    def __init__(self) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.runners: dict[str, MatchRunner] = {}
        self._remote_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.store = DatabaseStore()
        # Matches with sockets in this process, and how many: the watchdog's list.
        self.attached: dict[str, int] = {}
        self.local = LocalSockets()  # this process's match sockets: fan-out, drain
        # Pub/sub, for per-tick traffic between processes; None without Redis.
        self.fanout_layer: BaseChannelLayer | None = get_channel_layer(events.FANOUT_LAYER)
        self._fanout: asyncio.Task[None] | None = None
        self._outbox: dict[str, list[dict[str, Any]]] = {}
        self.draining = False
        self._watchdog: asyncio.Task[None] | None = None
        self.presence = presence.LocalPresence()
        self.lobby = LobbyHub(self.presence)
        self.matchmaking = MatchmakingHub()
        self.cleanup = Cleanup()  # what closed sockets left in Redis

    def attach(self, match_id: str, consumer: Any) -> None:
        """A socket of this process joined the match: watch that someone runs it."""
        self.attached[match_id] = self.attached.get(match_id, 0) + 1
        self.local.add(consumer)
        if self.fanout_layer is not None and (self._fanout is None or self._fanout.done()):
            self._fanout = asyncio.get_running_loop().create_task(self._receive_fanout())
        if redis_store.enabled() and (self._watchdog is None or self._watchdog.done()):
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def detach(
        self, match_id: str, consumer: Any, leave: dict[str, Any] | None = None
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
        runner = self.runners.get(match_id)
        if runner is not None:
            runner.post(leave)
            return None
        if not redis_store.enabled():
            return None  # one process, and no runner here: nobody runs the match
        layer = get_channel_layer()
        assert layer is not None
        return functools.partial(layer.send, events.runner_channel(match_id), leave)

    async def drain(self, close_code: int) -> None:
        """Hand every match of this process over and close its sockets (SIGTERM, deploys).

        Runners stop after a final checkpoint and release their leases, so other
        processes adopt the matches at once; sockets are closed with `close_code`
        so clients reconnect (to another process, behind a load balancer).
        """
        self.draining = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.matchmaking.drain()  # its lobby sockets are about to be cut
        runners = list(self.runners.values())
        await asyncio.gather(*(runner.hand_over() for runner in runners))
        await asyncio.gather(*(self._release(r.lease) for r in runners if not r.lost))
        sockets = list(self.local.by_channel.values())
        for consumer in sockets:
            await consumer.refuse_for_restart(close_code)
        logger.info("drained %d matches and %d sockets", len(runners), len(sockets))

    async def _watch(self) -> None:
        """Adopt matches whose runner died: their lease expired while sockets here remain.

        With a lease of MATCH_LEASE_SECONDS and a check every second, a match is
        running again within about lease + 1 s of its process dying.
        """
        while self.attached:
            await asyncio.sleep(1.0)  # a polling period, not a wait for an event
            for match_id in list(self.attached):
                if match_id in self.runners:
                    continue
                try:
                    if await leases.holder(match_id) is None:
                        self._remote_until.pop(match_id, None)
                        await self._ensure_runner(match_id)
                except Exception:
                    logger.exception("watchdog could not check match %s", match_id)

    async def _receive_fanout(self) -> None:
        """Hand states that runners in other processes publish for this process's sockets."""
        layer = self.fanout_layer
        assert layer is not None and self.local.topic is not None
        while True:
            try:
                message = await layer.receive(self.local.topic)
            except Exception:
                # Redis went away for a moment: the layer reconnects on the next receive.
                logger.exception("fan-out receive failed; retrying")
                await asyncio.sleep(0.5)  # a retry backoff, not a wait for an event
                continue
            await self.local.deliver(message["to"], message["event"])

    async def post(self, match_id: str, message: dict[str, Any], *, lossy: bool = False) -> None:
        """Deliver an operation to the match's runner, starting one here if nobody runs it.

        To a runner in another process, `lossy` operations (real-time inputs, superseded
        by the next tick's) are batched over pub/sub, which drops them if the runner is
        moving; the others go through the runner's queue, which keeps them.
        """
        runner = self.runners.get(match_id)
        if runner is None and not self._known_remote(match_id):
            runner = await self._ensure_runner(match_id)
        if runner is not None:
            runner.post(message)
            return
        if not lossy or self.fanout_layer is None:
            layer = get_channel_layer()
            assert layer is not None
            await layer.send(events.runner_channel(match_id), message)
            return
        outbox = self._outbox.get(match_id)
        if outbox is None:
            self._outbox[match_id] = outbox = []
            asyncio.get_running_loop().call_later(BATCH_SECONDS, self._flush, match_id)
        outbox.append(message)

    def _flush(self, match_id: str) -> None:
        batch = self._outbox.pop(match_id, [])
        if batch:
            self._spawn(self._send_batch(match_id, batch))

    async def _send_batch(self, match_id: str, batch: list[dict[str, Any]]) -> None:
        layer = self.fanout_layer
        assert layer is not None
        try:
            await layer.send(events.runner_topic(match_id), {"op": "batch", "messages": batch})
        except Exception:
            # Lost like inputs in flight; clients send inputs every tick anyway.
            logger.exception("could not send %d inputs to match %s", len(batch), match_id)

    def _known_remote(self, match_id: str) -> bool:
        loop = asyncio.get_running_loop()
        return self._remote_until.get(match_id, 0.0) > loop.time()

    async def _ensure_runner(self, match_id: str) -> MatchRunner | None:
        if self.draining:
            return None  # shutting down: leave the match to the other processes
        lock = self._locks.setdefault(match_id, asyncio.Lock())
        async with lock:
            if match_id in self.runners:
                return self.runners[match_id]
            lease = None
            if redis_store.enabled():
                lease = await leases.claim(match_id, self.holder)
                if lease is None:
                    loop = asyncio.get_running_loop()
                    self._remote_until[match_id] = loop.time() + REMOTE_CACHE_SECONDS
                    return None
            return await self._start_runner(match_id, lease)

    async def _start_runner(self, match_id: str, lease: leases.Lease | None) -> MatchRunner | None:
        info = await self.store.load(match_id)
        if info is None or info.status in ("finished", "aborted"):
            await self._release(lease)
            return None
        restored = None
        if info.status == "active":
            # The process that ran it is gone: continue from its last checkpoint.
            restored = await checkpoints.load(match_id) if lease is not None else None
            if restored is None:
                reason = "the server running it stopped"
                await self.store.abort(match_id, reason, lease.token if lease else None)
                await self._release(lease)
                return None
        layer = get_channel_layer()
        assert layer is not None
        runner = MatchRunner(
            info,
            FanoutTransport(
                layer, self.fanout_layer, self.local, match_id, lease.token if lease else None
            ),
            self.store,
            lease=lease,
            checkpoints=checkpoints if lease is not None else None,
            restored=restored,
            grace_seconds=settings.MATCH_RECONNECT_GRACE_SECONDS,
            on_stop=self._forget,
        )
        self.runners[match_id] = runner
        runner.start()
        self._spawn(self._listen(runner, layer, events.runner_channel(match_id), batches=False))
        if self.fanout_layer is not None:
            topic = events.runner_topic(match_id)
            self._spawn(self._listen(runner, self.fanout_layer, topic, batches=True))
        if lease is not None:
            self._spawn(self._keep_lease(runner, lease))
        return runner

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(
        self, runner: MatchRunner, layer: BaseChannelLayer, channel: str, *, batches: bool
    ) -> None:
        """Post to the runner what other processes (and services) send on `channel`.

        The runner's queue on the core layer carries single operations; its pub/sub
        topic carries batches of real-time inputs.
        """
        while runner.task is not None and not runner.task.done():
            receiving = asyncio.ensure_future(layer.receive(channel))
            try:
                done, _ = await asyncio.wait(
                    {receiving, runner.task}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not receiving.done():
                    receiving.cancel()  # never leave a receive behind (pub/sub: unsubscribes)
            if receiving in done:
                message = receiving.result()
                for operation in message["messages"] if batches else [message]:
                    runner.post(operation)

    async def _keep_lease(self, runner: MatchRunner, lease: leases.Lease) -> None:
        period = settings.MATCH_LEASE_SECONDS / 3
        while runner.task is not None and not runner.task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(runner.task), timeout=period)
            if runner.task.done():
                break
            if not await leases.renew(lease):
                logger.error("lost the lease of match %s; stopping its runner", runner.match_id)
                runner.lose_lease()
                return

    def _forget(self, runner: MatchRunner) -> None:
        if self.runners.get(runner.match_id) is runner:
            del self.runners[runner.match_id]
        self._locks.pop(runner.match_id, None)
        if runner.lease is not None and not runner.lost and not self.draining:
            self._spawn(self._release(runner.lease))  # (a drain releases after its checkpoint)

    async def _release(self, lease: leases.Lease | None) -> None:
        if lease is not None:
            await leases.release(lease)

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
        for helper in (self._watchdog, self._fanout):
            if helper is not None:
                helper.cancel()
                self._tasks.add(helper)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


_supervisor: MatchSupervisor | None = None


def get_supervisor() -> MatchSupervisor:
    global _supervisor
    if _supervisor is None:
        _supervisor = MatchSupervisor()
    return _supervisor


def reset_for_tests() -> None:
    """Forget every runner; only for tests, whose event loops end with each test."""
    assert os.environ.get("PYTEST_CURRENT_TEST"), "reset_for_tests() is for tests only"
    global _supervisor
    if _supervisor is not None:
        for runner in list(_supervisor.runners.values()):
            runner.stop()
    _supervisor = None
