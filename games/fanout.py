"""The process's one Redis pub/sub connection: per-tick traffic between processes.

Runners publish states for the sockets of other processes on those processes'
topics, and processes publish batches of inputs on runners' topics (see
transport.py). Pub/sub costs one PUBLISH per message and nothing per receive,
and it is lossy, like the states it carries.

Why not channels-redis's pub/sub layer: after a connection loss it could come
back subscribed twice (its receiver and a subscribe racing to reconnect the
same connection, the first socket left open) or not at all (a subscribe that
failed left the channel looking subscribed), and it said nothing either way;
its on_reconnect hook is never called. Here one task owns the connection. It
holds the set of wanted topics; after any error it closes the connection (so
Redis drops every subscription of it), opens a new one, subscribes to each
wanted topic exactly once, logs the recovery once and calls `on_reconnect`.
While the connection is down, `publish` fails at once with Unavailable instead
of trying Redis on every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import redis
import redis.asyncio as aredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from games.cluster import redis as cluster_redis

logger = logging.getLogger(__name__)

# The reader's wait for a message between looks at the wanted topics: a new
# subscription takes effect within this long (the first states or inputs of a
# new runner may miss it; both are superseded every tick).
POLL_SECONDS = 0.05
# An idle connection is pinged this often; without an answer for PING_TIMEOUT it is
# treated as lost (a silent network, where no error would ever come).
PING_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 3.0
# Reconnection backoff after a failure: from the first to the last, doubling.
RETRY_FIRST_SECONDS, RETRY_LAST_SECONDS = 0.1, 1.0
# Messages waiting for one topic's reader; past it the oldest are dropped (lossy, as states are).
QUEUE_LENGTH = 1000


class Fanout:
    """Subscriptions of this process, kept across reconnections; publishing."""

    def __init__(self, on_reconnect: Callable[[], None] | None = None) -> None:
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.on_reconnect = on_reconnect
        self.connected = False
        self.reconnections = 0  # for tests and metrics: how often it came back
        self._subscribed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: aredis.Redis | None = None
        self._backoff = RETRY_FIRST_SECONDS
        self._previous_id: int | None = None  # Redis's id of the last connection

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fan-out")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def subscribe(self, topic: str) -> asyncio.Queue[dict[str, Any]]:
        """The queue of `topic`'s messages; subscribed within POLL_SECONDS, and after every
        reconnection."""
        queue = self.queues.get(topic)
        if queue is None:
            self.queues[topic] = queue = asyncio.Queue(QUEUE_LENGTH)
        self.start()
        return queue

    def unsubscribe(self, topic: str, queue: asyncio.Queue[dict[str, Any]] | None = None) -> None:
        """Stop taking `topic` (only if its queue is still `queue`, when given: a new
        subscriber of the same topic keeps it)."""
        if queue is None or self.queues.get(topic) is queue:
            self.queues.pop(topic, None)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """PUBLISH `message`; Unavailable while the connection is down or on any error."""
        if not self.connected and self._task is not None:
            raise cluster_redis.Unavailable("the pub/sub connection is down")
        try:
            await cluster_redis.async_client().publish(topic, msgspec.msgpack.encode(message))
        except cluster_redis.ERRORS as exc:
            raise cluster_redis.Unavailable(str(exc)) from exc

    async def _run(self) -> None:
        self._backoff = RETRY_FIRST_SECONDS
        while True:
            pubsub = self._pubsub()
            try:
                await self._serve(pubsub)
            except cluster_redis.FAILURES as exc:
                self.connected = False
                cluster_redis.outage.probe_lost(exc)
            finally:
                self._subscribed = set()
                with contextlib.suppress(*cluster_redis.ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # (redis-py)
                    # (the old connection goes, and with it its subscriptions)
            await asyncio.sleep(self._backoff)  # a reconnection backoff, not a wait for an event
            self._backoff = min(self._backoff * 2, RETRY_LAST_SECONDS)

    def _pubsub(self) -> aredis.client.PubSub:
        if self._client is None:
            # A connection of its own, with redis-py's silent retries off: every loss
            # comes here, so that this loop alone reconnects and resubscribes.
            self._client = aredis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=10,
                socket_connect_timeout=5,
                retry=Retry(NoBackoff(), 0),
                max_connections=2,
            )
        return self._client.pubsub(ignore_subscribe_messages=True)

    async def _serve(self, pubsub: aredis.client.PubSub) -> None:
        await pubsub.connect()  # type: ignore[no-untyped-call]  # (redis-py)
        await self._kill_ghost(pubsub)
        await self._sync_subscriptions(pubsub)
        self.connected = True
        if cluster_redis.outage.recovered("the pub/sub fan-out") is not None or self.reconnections:
            logger.warning(
                "fan-out re-subscribed to %d topics: %s",
                len(self._subscribed),
                ", ".join(sorted(self._subscribed)),
            )
            if self.on_reconnect is not None:
                self.on_reconnect()
        self.reconnections += 1
        self._backoff = RETRY_FIRST_SECONDS
        last_heard = last_ping = time.monotonic()
        while True:
            await self._sync_subscriptions(pubsub)
            message = await pubsub.get_message(timeout=POLL_SECONDS)
            now = time.monotonic()
            if message is not None:
                last_heard = now
                self._hand(message)
            if now - last_heard > PING_TIMEOUT_SECONDS:
                raise cluster_redis.Unavailable("no answer to pings on the pub/sub connection")
            if now - last_ping > PING_SECONDS:
                last_ping = now
                await pubsub.ping()  # its answer comes through get_message, as a pong

    async def _kill_ghost(self, pubsub: aredis.client.PubSub) -> None:
        """End this process's previous connection on the server's side, if it still lives.

        After a network cut Redis may hold the old connection, subscriptions and all,
        until its TCP keepalive gives up (minutes): a second subscriber of the topic
        that nobody reads. The new connection ends it by id before subscribing.
        """
        connection = pubsub.connection
        assert connection is not None
        await connection.send_command("CLIENT", "ID")
        client_id = int(await connection.read_response())
        if self._previous_id is not None:
            await connection.send_command("CLIENT", "KILL", "ID", str(self._previous_id))
            with contextlib.suppress(redis.ResponseError):  # gone already: no such client
                await connection.read_response()
        self._previous_id = client_id

    async def _sync_subscriptions(self, pubsub: aredis.client.PubSub) -> None:
        wanted = set(self.queues)
        new, gone = wanted - self._subscribed, self._subscribed - wanted
        if new:
            await pubsub.subscribe(*sorted(new))
            self._subscribed |= new
        if gone:
            await pubsub.unsubscribe(*sorted(gone))
            self._subscribed -= gone

    def _hand(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return  # a pong
        topic = message["channel"]
        queue = self.queues.get(topic.decode() if isinstance(topic, bytes) else topic)
        if queue is None:
            return  # unsubscribed since
        if queue.full():
            queue.get_nowait()  # drop the oldest: the newer state supersedes it
        queue.put_nowait(msgspec.msgpack.decode(message["data"]))
