"""The runtime of one server process: starts, finds and stops match runners.

Every server process has one. When a socket connects to a match that nobody
runs, the runtime of that socket's process claims the match (a Redis lease
with a fencing token when REDIS_URL is set; this process's memory otherwise)
and starts its runner here. Consumers in the same process hand operations to
the runner directly, with no thread hop and no Redis round trip; consumers in
other processes send them to the runner's channel, which the runner's process
reads and posts locally.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from games.cluster import checkpoints, leases, presence
from games.cluster import redis as cluster_redis
from games.matchmaking import Matchmaker
from games.runtime import messages, metrics
from games.runtime.cleanup import Cleanup
from games.runtime.fanout import Fanout, FanoutTransport, LocalSockets, receive_states
from games.runtime.lobby_feed import LobbyFeed
from games.runtime.match import ops
from games.runtime.match.runner import MatchRunner
from games.runtime.match.store import DatabaseStore
from games.services.errors import StaleRunner

logger = logging.getLogger(__name__)

# After finding that another process runs a match, trust that for this long before asking again.
REMOTE_CACHE_SECONDS = 2.0
# Inputs for a runner in another process are published together, at most once per this
# period per match: Redis then carries at most two messages per match, process and tick
# (at 20 Hz), whatever the number of players. Runners read their inbox once a tick,
# so this adds 12 ms on average to inputs from sockets on another process.
BATCH_SECONDS = 0.025
# An active match that nobody runs and that has no checkpoint (its runner died in its
# first second, or Redis lost everything) is aborted after this many lease lengths: its
# runner, if it still lives, takes its lease again and checkpoints well before that.
ORPHAN_LEASES = 3
# Operations for a runner elsewhere that wait for Redis, per match; past it the oldest go.
HELD_OPERATIONS = 100
RETRY_SECONDS = 0.5
# Tries to join one socket's group again after an outage (the first may meet a dead
# pooled connection); the next outage's recovery tries again anyway.
REGISTER_ATTEMPTS = 4


class ProcessRuntime:
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
        self.fanout = Fanout(self._recovered) if cluster_redis.enabled() else None
        self._fanout: asyncio.Task[None] | None = None
        # After Redis comes back, live runners take their leases again before anyone
        # adopts their matches: until this loop time, only never-run matches are claimed.
        self._holdoff_until = 0.0
        self._recovery = asyncio.Event()  # set (and replaced) whenever Redis is back
        self._orphaned: dict[str, float] = {}  # active, unrun, no checkpoint: since when
        self._held: dict[str, collections.deque[ops.Operation]] = {}  # ops awaiting Redis
        self._outbox: dict[str, list[dict[str, Any]]] = {}
        self.draining = False
        self._watchdog: asyncio.Task[None] | None = None
        self.presence = presence.LocalPresence()
        self.lobby = LobbyFeed(self.presence)
        self.matchmaking = Matchmaker()
        self.cleanup = Cleanup()  # what closed sockets left in Redis
        # Where turn-based bots think (a hard Connect Four move is tens of milliseconds of
        # search): one thread of its own, so the loop's ticks never wait for it. Not the
        # ORM's thread (database_sync_to_async), which sockets wait on while connecting.
        self.thinking = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-thinking")

    def attach(self, match_id: str, consumer: Any) -> None:
        """A socket of this process joined the match: watch that someone runs it."""
        self.attached[match_id] = self.attached.get(match_id, 0) + 1
        self.local.add(consumer)
        if self.fanout is not None and (self._fanout is None or self._fanout.done()):
            self._fanout = asyncio.get_running_loop().create_task(
                receive_states(self.fanout, self.local)
            )
        if cluster_redis.enabled() and (self._watchdog is None or self._watchdog.done()):
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

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
        runner = self.runners.get(match_id)
        if runner is not None:
            runner.post(leave)
            return None
        if not cluster_redis.enabled():
            return None  # one process, and no runner here: nobody runs the match
        layer = get_channel_layer()
        assert layer is not None
        return functools.partial(layer.send, messages.runner_channel(match_id), ops.to_wire(leave))

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
                except cluster_redis.FAILURES as exc:
                    cluster_redis.outage.failed("the watchdog", exc)
                    break  # the next round, in a second
                except Exception:
                    logger.exception("watchdog could not check match %s", match_id)

    async def post(self, match_id: str, op: ops.Operation, *, lossy: bool = False) -> None:
        """Deliver an operation to the match's runner, starting one here if nobody runs it.

        To a runner in another process, `lossy` operations (real-time inputs, superseded
        by the next tick's) are batched over pub/sub, which drops them if the runner is
        moving or Redis is unreachable; the others go through the runner's queue, which
        keeps them, and wait here (in order) while Redis is unreachable.
        """
        runner = self.runners.get(match_id)
        if runner is None and not self._known_remote(match_id):
            runner = await self._ensure_runner(match_id)
        if runner is not None:
            runner.post(op)
            return
        if not lossy or self.fanout is None:
            await self._send_reliably(match_id, op)
            return
        outbox = self._outbox.get(match_id)
        if outbox is None:
            self._outbox[match_id] = outbox = []
            asyncio.get_running_loop().call_later(BATCH_SECONDS, self._flush, match_id)
        outbox.append(ops.to_wire(op))

    async def _send_reliably(self, match_id: str, op: ops.Operation) -> None:
        held = self._held.get(match_id)
        if held is not None:
            held.append(op)  # behind the older ones: a runner sees them in order
            return
        layer = get_channel_layer()
        assert layer is not None
        try:
            await layer.send(messages.runner_channel(match_id), ops.to_wire(op))
        except cluster_redis.ERRORS as exc:
            cluster_redis.outage.failed(f"an operation for match {match_id}", exc)
            self._held[match_id] = collections.deque([op], maxlen=HELD_OPERATIONS)
            self._spawn(self._send_held(match_id))

    async def _send_held(self, match_id: str) -> None:
        """Send what waits for Redis for one match, oldest first, until it is all sent."""
        layer = get_channel_layer()
        assert layer is not None
        held = self._held[match_id]
        while held:
            await asyncio.sleep(RETRY_SECONDS)  # a retry backoff, not a wait for an event
            runner = self.runners.get(match_id)
            try:
                while held:
                    if runner is not None:  # the match moved here meanwhile
                        runner.post(held[0])
                    else:
                        await layer.send(messages.runner_channel(match_id), ops.to_wire(held[0]))
                    held.popleft()
            except cluster_redis.ERRORS as exc:
                cluster_redis.outage.failed(f"an operation for match {match_id}", exc)
        del self._held[match_id]

    def _flush(self, match_id: str) -> None:
        batch = self._outbox.pop(match_id, [])
        if batch:
            self._spawn(self._send_batch(match_id, batch))

    async def _send_batch(self, match_id: str, batch: list[dict[str, Any]]) -> None:
        assert self.fanout is not None
        message = {"op": "batch", "messages": batch}
        try:
            await self.fanout.publish(messages.runner_topic(match_id), message)
        except cluster_redis.Unavailable as exc:
            # Lost like inputs in flight; clients send inputs every tick anyway.
            cluster_redis.outage.failed(f"inputs for match {match_id}", exc)

    def _known_remote(self, match_id: str) -> bool:
        loop = asyncio.get_running_loop()
        return self._remote_until.get(match_id, 0.0) > loop.time()

    def _remote_for_a_while(self, match_id: str) -> None:
        loop = asyncio.get_running_loop()
        self._remote_until[match_id] = loop.time() + REMOTE_CACHE_SECONDS

    async def _ensure_runner(self, match_id: str) -> MatchRunner | None:
        if self.draining:
            return None  # shutting down: leave the match to the other processes
        lock = self._locks.setdefault(match_id, asyncio.Lock())
        async with lock:
            if match_id in self.runners:
                return self.runners[match_id]
            if not cluster_redis.enabled():
                info = await self.store.load(match_id)
                return await self._start_runner(info, None)
            try:
                return await self._claim(match_id)
            except cluster_redis.FAILURES as exc:
                cluster_redis.outage.failed(f"starting a runner for match {match_id}", exc)
                self._remote_for_a_while(match_id)  # ask again later, not at every input
                return None
            except Exception as exc:  # the database, most likely: asked again later too
                logger.warning("could not start a runner for match %s: %r", match_id, exc)
                self._remote_for_a_while(match_id)
                return None

    async def _claim(self, match_id: str) -> MatchRunner | None:
        """Take the match's lease, with a token above the database's fence, and run it."""
        if await leases.holder(match_id) is not None:
            self._remote_for_a_while(match_id)
            return None
        info = await self.store.load(match_id)
        if info is None or info.status in ("finished", "aborted"):
            return None
        if not await self._may_claim(info):
            self._remote_for_a_while(match_id)
            return None
        lease = await leases.claim(match_id, self.holder, floor=info.runner_fence)
        if lease is None:
            self._remote_for_a_while(match_id)
            return None
        try:
            # Recorded before the runner starts: the database knows every token handed out,
            # so a counter lost with Redis can never hand out an old one again.
            await self.store.take_fence(match_id, lease.token)
        except StaleRunner:
            await self._release(lease)
            self._remote_for_a_while(match_id)
            return None
        return await self._start_runner(info, lease)

    async def _may_claim(self, info: Any) -> bool:
        """Whether to claim a match nobody holds now, rather than wait for its runner.

        A match never run (no token recorded) is claimed at once. Just after Redis
        came back, one that had a runner is left to it for a lease length: the
        runner takes its lease again (with its state, newer than any checkpoint).
        An active match without a checkpoint is adopted (to be aborted: there is
        nothing to continue from) only after ORPHAN_LEASES lease lengths, in case
        its runner still lives and has yet to notice that Redis lost its lease.
        """
        if not info.runner_fence:
            return True
        now = asyncio.get_running_loop().time()
        if now < self._holdoff_until:
            return False
        if info.status != "active" or await checkpoints.exists(info.id):
            self._orphaned.pop(info.id, None)
            return True
        since = self._orphaned.setdefault(info.id, now)
        if since == now:
            logger.warning(
                "match %s: nobody runs it and it has no checkpoint; aborting it unless its "
                "runner is back within %.0f s",
                info.id,
                ORPHAN_LEASES * settings.MATCH_LEASE_SECONDS,
            )
        return now - since >= ORPHAN_LEASES * settings.MATCH_LEASE_SECONDS

    async def _start_runner(self, info: Any, lease: leases.Lease | None) -> MatchRunner | None:
        if info is None or info.status in ("finished", "aborted"):
            await self._release(lease)
            return None
        match_id = info.id
        restored = None
        if info.status == "active":
            # The process that ran it is gone: continue from its last checkpoint.
            restored = await checkpoints.load(match_id) if lease is not None else None
            if restored is None:
                self._orphaned.pop(match_id, None)
                reason = "the server running it stopped, and its state was lost"
                await self.store.abort(match_id, reason, lease.token if lease else None)
                await self._release(lease, match_over=True)
                return None
        layer = get_channel_layer()
        assert layer is not None
        runner = MatchRunner(
            info,
            FanoutTransport(
                layer, self.fanout, self.local, match_id, lease.token if lease else None
            ),
            self.store,
            lease=lease,
            checkpoints=checkpoints if lease is not None else None,
            restored=restored,
            grace_seconds=settings.MATCH_RECONNECT_GRACE_SECONDS,
            on_stop=self._forget,
            thinking=self.thinking,
        )
        self.runners[match_id] = runner
        if restored is not None:
            metrics.adopted(info.game)
        runner.start()
        self._spawn(self._listen(runner, layer, messages.runner_channel(match_id)))
        if self.fanout is not None:
            self._spawn(self._listen_inputs(runner, self.fanout))
        if lease is not None:
            self._spawn(self._keep_lease(runner))
        return runner

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, runner: MatchRunner, layer: BaseChannelLayer, channel: str) -> None:
        """Post to the runner what other processes (and services) send on its queue."""
        while runner.task is not None and not runner.task.done():
            receiving = asyncio.ensure_future(layer.receive(channel))
            try:
                done, _ = await asyncio.wait(
                    {receiving, runner.task}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not receiving.done():
                    receiving.cancel()  # never leave a receive behind
            if receiving in done:
                try:
                    message = receiving.result()
                except cluster_redis.ERRORS as exc:
                    cluster_redis.outage.failed(f"the queue of match {runner.match_id}", exc)
                    await asyncio.sleep(RETRY_SECONDS)  # a retry backoff
                    continue
                op = ops.from_wire(message, source=f"the queue of match {runner.match_id}")
                if op is not None:
                    runner.post(op)

    async def _listen_inputs(self, runner: MatchRunner, fanout: Fanout) -> None:
        """Post to the runner the batches of inputs other processes publish on its topic."""
        topic = messages.runner_topic(runner.match_id)
        queue = fanout.subscribe(topic)
        try:
            while runner.task is not None and not runner.task.done():
                getting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getting, runner.task}, return_when=asyncio.FIRST_COMPLETED
                )
                if getting not in done:
                    getting.cancel()
                    break
                for op in _batched(getting.result(), runner.match_id):
                    runner.post(op)
        finally:
            fanout.unsubscribe(topic, queue)

    async def _keep_lease(self, runner: MatchRunner) -> None:
        """Renew the runner's lease every third of its length, for as long as it runs.

        While Redis is unreachable the runner goes on and the renewal is retried.
        A lease that vanished meanwhile (expired, or lost with Redis's data) is
        taken again if nobody claimed the match since; one another process holds
        stops the runner, and this process's sockets join the other's runner.
        """
        period = settings.MATCH_LEASE_SECONDS / 3
        unreachable = False
        while runner.task is not None and not runner.task.done():
            recovered = asyncio.ensure_future(self._recovery.wait())
            try:
                await asyncio.wait({runner.task, recovered}, timeout=period)
            finally:
                recovered.cancel()
            if runner.task.done() or runner.lease is None:
                break
            renewal: leases.Renewal | None
            try:
                renewal = await leases.renew(runner.lease)
                if renewal is leases.Renewal.VANISHED:
                    renewal = await self._take_lease_again(runner, runner.lease)
            except cluster_redis.FAILURES as exc:
                cluster_redis.outage.failed(f"the lease of match {runner.match_id}", exc)
                if not unreachable:
                    unreachable = True
                    logger.warning(
                        "match %s: lease not renewed (Redis unreachable); its runner goes on",
                        runner.match_id,
                    )
                continue
            if renewal is leases.Renewal.TAKEN:
                await self._stop_for_successor(runner)
                return
            if unreachable and renewal is leases.Renewal.RENEWED:
                unreachable = False
                logger.warning("match %s: lease renewed again", runner.match_id)

    async def _take_lease_again(
        self, runner: MatchRunner, lease: leases.Lease
    ) -> leases.Renewal | None:
        """The runner's lease vanished: take it with the next token, recorded in the
        database first (the authority when Redis lost its counter). None: try again."""
        taken = await leases.reestablish(lease)
        if taken is None:
            return leases.Renewal.TAKEN
        new, lost = taken
        try:
            await self.store.take_fence(runner.match_id, new.token, since=lease.token)
        except StaleRunner:
            await self._release(new)
            return leases.Renewal.TAKEN
        except Exception:
            logger.exception("match %s: could not record its new lease", runner.match_id)
            await self._release(new)  # vanished again: retried at the next renewal
            return None
        runner.take_lease(new, lost)
        logger.warning(
            "match %s: its lease vanished (%s); taken again with token %d (was %d)",
            runner.match_id,
            "Redis lost its data" if lost else "it expired while Redis was unreachable",
            new.token,
            lease.token,
        )
        return leases.Renewal.RENEWED

    async def _stop_for_successor(self, runner: MatchRunner) -> None:
        """Another process runs the match now: stop here, and send this process's sockets
        of the match to the new runner (its own request through the group may have been
        lost while this process could not hear it)."""
        logger.error(
            "match %s: another process took its lease (Redis was unreachable from here for "
            "longer than the lease); stopping this runner, the other goes on",
            runner.match_id,
        )
        runner.lose_lease()
        if runner.task is not None:
            await asyncio.wait({runner.task})
        rejoin = {"type": "match.rejoin", "fence": None}
        channels = [
            channel
            for channel, consumer in self.local.by_channel.items()
            if getattr(consumer, "match_id", None) == runner.match_id
        ]
        await self.local.deliver(channels, rejoin)

    def _forget(self, runner: MatchRunner) -> None:
        if self.runners.get(runner.match_id) is runner:
            del self.runners[runner.match_id]
        self._locks.pop(runner.match_id, None)
        if runner.lease is not None and not runner.lost and not self.draining:
            over = runner.status in ("finished", "aborted")
            # (a drain releases after its checkpoint)
            self._spawn(self._release(runner.lease, match_over=over))

    def _recovered(self) -> None:
        """Redis answers again (called by the fan-out once it has re-subscribed).

        Runners renew (or take again) their leases now; nobody adopts a match
        that had a runner for a lease length; every socket of this process joins
        its groups again (a Redis restarted empty lost them, and with them the
        results and aborts announced to the groups) and presence is republished.
        """
        self._holdoff_until = asyncio.get_running_loop().time() + settings.MATCH_LEASE_SECONDS
        self._remote_until.clear()
        self._recovery.set()
        self._recovery = asyncio.Event()
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
                        await asyncio.sleep(RETRY_SECONDS * attempt)  # a retry backoff
                memberships += 1
        await self.presence.republish()
        logger.warning(
            "after the Redis outage: %d sockets joined their %d groups again; runners here: %s",
            len(sockets),
            memberships,
            ", ".join(sorted(self.runners)) or "none",
        )

    async def _release(self, lease: leases.Lease | None, *, match_over: bool = False) -> None:
        if lease is None:
            return
        try:
            await leases.release(lease, match_over=match_over)
        except cluster_redis.Unavailable as exc:
            cluster_redis.outage.failed(f"releasing the lease of match {lease.match_id}", exc)

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
        if self.fanout is not None:
            self.fanout.stop()
        for helper in (self._watchdog, self._fanout):
            if helper is not None:
                helper.cancel()
                self._tasks.add(helper)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


def _batched(batch: object, match_id: str) -> list[ops.Operation]:
    """The operations in a batch of inputs from another process; malformed ones dropped."""
    wire = batch.get("messages") if isinstance(batch, dict) else None
    if not isinstance(wire, list):
        logger.warning("dropped a malformed batch of inputs for match %s: %.200r", match_id, batch)
        return []
    source = f"a batch of inputs for match {match_id}"
    return [op for op in (ops.from_wire(m, source=source) for m in wire) if op is not None]


_runtime: ProcessRuntime | None = None


def current() -> ProcessRuntime | None:
    """This process's supervisor if it has one (for the metrics; never creates one)."""
    return _runtime


def get_runtime() -> ProcessRuntime:
    global _runtime
    if _runtime is None:
        _runtime = ProcessRuntime()
    if _runtime.fanout is not None:
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
    _runtime = None
    presence.reset_for_tests()
