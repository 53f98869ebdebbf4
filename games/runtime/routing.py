"""Routing a socket's operation to its match's runner, in this process or another.

A runner of this process gets the operation by a direct call, with no thread hop
and no Redis round trip; if nobody runs the match, the registry starts a runner
here. For a runner in another process, real-time inputs (lossy: superseded by
the next tick's) are batched and published on the runner's topic; everything
else goes to the runner's channel on the core layer, which queues it, and waits
here, in order, while Redis is unreachable. The runner's process listens on
both and posts what arrives to its runner.

May import: `games.cluster` (whether this is the only process; the Redis
failure types and outage log),
`games.runtime.runners` (where the runners are), `games.runtime.match` (the
runner and its typed operations), `games.runtime.fanout` (the pub/sub
connection) and `games.runtime.messages`. Must not import
`games.runtime.process`, which wires this router.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

from games.cluster import redis as cluster_redis
from games.cluster import shared
from games.runtime import messages
from games.runtime.fanout import Fanout
from games.runtime.match import ops
from games.runtime.match.runner import MatchRunner
from games.runtime.runners import RunnerRegistry, Spawn

logger = logging.getLogger(__name__)

# Inputs for a runner in another process are published together, at most once per this
# period per match: Redis then carries at most two messages per match, process and tick
# (at 20 Hz), whatever the number of players. Runners read their inbox once a tick,
# so this adds 12 ms on average to inputs from sockets on another process.
BATCH_SECONDS = 0.025
# Operations for a runner elsewhere that wait for Redis, per match; past it the oldest go.
HELD_OPERATIONS = 100
RETRY_SECONDS = 0.5


class Router:
    """Hands each operation to its match's runner, here or over Redis."""

    def __init__(self, registry: RunnerRegistry, fanout: Fanout | None, spawn: Spawn) -> None:
        self._registry = registry
        self._fanout = fanout
        self._spawn = spawn
        self._held: dict[str, collections.deque[ops.Operation]] = {}  # ops awaiting Redis
        self._outbox: dict[str, list[dict[str, Any]]] = {}

    async def post(self, match_id: str, op: ops.Operation, *, lossy: bool = False) -> None:
        """Deliver an operation to the match's runner, starting one here if nobody runs it.

        To a runner in another process, `lossy` operations (real-time inputs, superseded
        by the next tick's) are batched over pub/sub, which drops them if the runner is
        moving or Redis is unreachable; the others go through the runner's queue, which
        keeps them, and wait here (in order) while Redis is unreachable.
        """
        runner = self._registry.runners.get(match_id)
        if runner is None:
            runner = await self._registry.runner_for(match_id)
        if runner is not None:
            runner.post(op)
            return
        if not lossy or self._fanout is None:
            await self._send_reliably(match_id, op)
            return
        outbox = self._outbox.get(match_id)
        if outbox is None:
            self._outbox[match_id] = outbox = []
            asyncio.get_running_loop().call_later(BATCH_SECONDS, self._flush, match_id)
        outbox.append(ops.to_wire(op))

    def leave(self, match_id: str, leave: ops.Leave) -> Callable[[], Awaitable[object]] | None:
        """Hand a gone socket's `leave` to the match's runner: at once to one here; for
        one elsewhere, the send is returned for the caller to run (and retry). A leave
        never starts a runner: one that starts later finds every seat disconnected anyway.
        """
        runner = self._registry.runners.get(match_id)
        if runner is not None:
            runner.post(leave)
            return None
        if shared().is_local:
            return None  # one process, and no runner here: nobody runs the match
        layer = get_channel_layer()
        assert layer is not None
        return functools.partial(layer.send, messages.runner_channel(match_id), ops.to_wire(leave))

    def listen(self, runner: MatchRunner, layer: BaseChannelLayer) -> None:
        """Post to a new runner of this process what other processes send it, for as
        long as it runs: its queue on the core layer, and its topic of batched inputs."""
        self._spawn(self._listen(runner, layer, messages.runner_channel(runner.match_id)))
        if self._fanout is not None:
            self._spawn(self._listen_inputs(runner, self._fanout))

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
            runner = self._registry.runners.get(match_id)
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
        assert self._fanout is not None
        message = {"op": "batch", "messages": batch}
        try:
            await self._fanout.publish(messages.runner_topic(match_id), message)
        except cluster_redis.Unavailable as exc:
            # Lost like inputs in flight; clients send inputs every tick anyway.
            cluster_redis.outage.failed(f"inputs for match {match_id}", exc)

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


def _batched(batch: object, match_id: str) -> list[ops.Operation]:
    """The operations in a batch of inputs from another process; malformed ones dropped."""
    wire = batch.get("messages") if isinstance(batch, dict) else None
    if not isinstance(wire, list):
        logger.warning("dropped a malformed batch of inputs for match %s: %.200r", match_id, batch)
        return []
    source = f"a batch of inputs for match {match_id}"
    return [op for op in (ops.from_wire(m, source=source) for m in wire) if op is not None]
