"""How a runner reaches sockets: directly in its own process, once per other process.

A runner sends each frame to the channel names of the match's sockets. Those
of its own process get the frame by a direct call, with no channel layer and
no Redis. For each other process with sockets of the match, a state (the
per-tick traffic) goes as one pub/sub message naming that process's sockets;
the process's fan-out loop hands it to each of them. So Redis carries one
PUBLISH per match, tick and *other process*, whatever the number of players,
and the per-socket work is one send of bytes encoded once by the runner.
Rarer frames (welcome, players, errors, closes) go to each remote socket's own
channel on the core layer, which queues them instead of dropping them; a
socket whose process has let its queue fill up misses the frame, and the
runner carries on.

A process is named by its channel names: channels-redis gives every channel of
one process the same part up to the `!` (its client prefix).

Every message carries the runner's fencing token. Consumers remember the
highest token they have seen for their match and drop messages with a lower
one, so a runner that lost its lease (paused, partitioned) cannot reach a
socket after its successor has.

`Fanout` is the process's one Redis pub/sub connection, for that per-tick
traffic between processes: runners publish states for the sockets of other
processes on those processes' topics (FanoutTransport below), and processes
publish batches of inputs on runners' topics. Pub/sub costs one PUBLISH per
message and nothing per receive, and it is lossy, like the states it carries.

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
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import msgspec
import redis
import redis.asyncio as aredis
from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from games.cluster import redis as cluster_redis
from games.runtime import messages, metrics

logger = logging.getLogger(__name__)


# --- The pub/sub connection ---------------------------------------------------------

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

    def __init__(
        self, on_reconnect: Callable[[], None] | None = None, holder: str | None = None
    ) -> None:
        # The connection carries this process's holder id as its name: other processes
        # see it vanish the moment this process dies (games/runtime/runners.py).
        self.holder = holder
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.on_reconnect = on_reconnect
        self.connected = False
        self.reconnections = 0  # for tests and metrics: how often it came back
        self._subscribed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: aredis.Redis | None = None
        self._backoff = RETRY_FIRST_SECONDS
        self._previous_id: int | None = None  # Redis's id of the last connection

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
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
        if self.holder is not None:
            assert pubsub.connection is not None
            await cluster_redis.name_connection(pubsub.connection, self.holder)
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


# --- Frames and states out ------------------------------------------------------------

# Frames (not states) for sockets of other processes kept while Redis is unreachable;
# past this many the oldest go (their sockets resync when they notice a gap).
UNSENT_FRAMES = 200
# Sending what was kept is tried again at most this often.
RETRY_SECONDS = 0.5
# The end of a match (its result) is retried for this long before it is given up.
END_RETRY_SECONDS = 30.0


class Socket(Protocol):
    """A match socket of this process (MatchConsumer)."""

    channel_name: str

    # And a handler for each event type it is handed: `match_state` for "match.state"...
    async def refuse_for_restart(self, code: int) -> None: ...
    async def abandon(self) -> None: ...


def process_of(channel: str) -> str:
    """The part of a channel name that is the same for every channel of its process."""
    return channel.partition("!")[0]


class LocalSockets:
    """This process's match sockets by channel name: where every fan-out ends."""

    def __init__(self) -> None:
        self.by_channel: dict[str, Socket] = {}
        self.process: str | None = None  # learnt from the first socket's channel name
        self._closing: set[asyncio.Future[None]] = set()  # sockets closed for an error

    def add(self, socket: Socket) -> None:
        self.by_channel[socket.channel_name] = socket
        if self.process is None:
            self.process = process_of(socket.channel_name)

    def remove(self, socket: Socket) -> None:
        if self.by_channel.get(socket.channel_name) is socket:
            del self.by_channel[socket.channel_name]

    @property
    def topic(self) -> str | None:
        """This process's pub/sub topic for states from runners elsewhere."""
        return None if self.process is None else messages.process_topic(self.process)

    def in_this_process(self, channel: str) -> bool:
        return process_of(channel) == self.process

    async def deliver(self, channels: Iterable[str], event: dict[str, Any]) -> None:
        """Hand `event` to each named socket still here; one bad socket spoils nothing."""
        # The handler's name once for all the sockets, each called straight: through each
        # socket's `dispatch` it cost 0.6 us more a socket and state (bench/hot_paths.py).
        try:
            handler = get_handler_name(event)
        except (AttributeError, KeyError, TypeError, ValueError):
            logger.error("dropped an event without a valid type: %.200r", event)
            return
        handed = 0
        for channel in channels:
            socket = self.by_channel.get(channel)
            if socket is None:
                continue  # it disconnected since the runner last heard of it
            handed += 1
            try:
                await getattr(socket, handler)(event)
            except Exception:
                # A bug serving this socket: logged once, not at every tick. The socket
                # leaves the fan-out and is closed, so its client reconnects afresh.
                logger.exception(
                    "could not deliver %s to %s; closing it", event.get("type"), channel
                )
                self.remove(socket)
                task = asyncio.ensure_future(socket.abandon())
                self._closing.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self._closing.discard)
        if handed and event.get("type") == "match.state":
            metrics.states_sent(handed)  # once per state, not per socket


class FanoutTransport:
    """Sends already-encoded frames; consumers forward them without decoding.

    Redis may be unreachable for a while: the runner never sees an error from
    here. States for other processes are skipped meanwhile (the next tick's
    supersedes them, and a client that missed some gets a full state or a delta
    from what it acknowledged); other frames for them wait, up to UNSENT_FRAMES,
    and go first once Redis answers again; the end of the match is retried for
    up to END_RETRY_SECONDS. Each outage is logged once per match.
    """

    def __init__(
        self,
        layer: BaseChannelLayer,
        fanout: Fanout | None,
        local: LocalSockets,
        match_id: Any,
        fence: int | None = None,
    ) -> None:
        self.layer = layer
        self.fanout = fanout  # pub/sub, when Redis is configured
        self.local = local
        self.match_id = match_id
        self.group = messages.match_group(match_id)
        self.fence = fence
        self._unsent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=UNSENT_FRAMES)
        self._rejoin_pending = False
        self._failing = False
        self._retry_at = 0.0

    async def deliver(self, channels: Iterable[str], kind: str, **fields: Any) -> None:
        """One frame to these sockets: direct calls here, one message per other process."""
        event = self._message(kind, **fields)
        here: list[str] = []
        elsewhere: dict[str, list[str]] = {}
        for channel in channels:
            if self.local.in_this_process(channel):
                here.append(channel)
            else:
                elsewhere.setdefault(process_of(channel), []).append(channel)
        await self.local.deliver(here, event)
        if self._unsent or self._rejoin_pending:
            await self._retry()
        for process, names in elsewhere.items():
            if kind == "match.state" and self.fanout is not None:
                metrics.state_published()
                await self._publish(messages.process_topic(process), {"to": names, "event": event})
            else:
                for name in names:
                    await self._send(name, event)

    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        assert self.fanout is not None
        try:
            await self.fanout.publish(topic, message)
        except cluster_redis.Unavailable as exc:
            self._failed(exc)  # a state: the next tick's supersedes it
            return
        self._succeeded()

    async def _send(self, name: str, event: dict[str, Any]) -> None:
        if self._unsent:
            self._unsent.append((name, event))  # behind the older ones, in order
            return
        try:
            await self.layer.send(name, event)
        except ChannelFull:
            # channels-redis queues all of a process's sockets in one list,
            # CHANNEL_LAYER_PROCESS_CAPACITY long; full, that process is
            # stuck or gone. Its sockets miss this frame; the match goes on.
            logger.warning("%s to %s dropped: its process's queue is full", event["type"], name)
        except cluster_redis.ERRORS as exc:
            self._unsent.append((name, event))
            self._failed(exc)
        else:
            self._succeeded()

    async def _retry(self) -> None:
        """Send what waits for Redis, oldest first; at most every RETRY_SECONDS."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return
        try:
            while self._unsent:
                name, event = self._unsent[0]
                with contextlib.suppress(ChannelFull):
                    await self.layer.send(name, event)
                self._unsent.popleft()
            if self._rejoin_pending:
                await self.layer.group_send(self.group, self._message("match.rejoin"))
                self._rejoin_pending = False
        except cluster_redis.ERRORS as exc:
            self._retry_at = loop.time() + RETRY_SECONDS
            self._failed(exc)
            return
        self._succeeded()

    def _failed(self, error: BaseException) -> None:
        cluster_redis.outage.failed(f"match {self.match_id}", error)
        if not self._failing:
            self._failing = True
            logger.warning(
                "match %s: cannot reach its sockets on other processes (Redis unreachable); "
                "their states are skipped and other frames kept until it is back",
                self.match_id,
            )

    def _succeeded(self) -> None:
        if self._failing and not self._unsent and not self._rejoin_pending:
            self._failing = False
            logger.warning("match %s: reaches its sockets on other processes again", self.match_id)

    async def broadcast_end(self, text: str) -> None:
        """The last frame of a match (its result), to every socket of the match's group.

        Through the group rather than the runner's list of sockets: a socket that
        connected while the runner was busy must still learn the result. Retried
        while Redis is unreachable, for up to END_RETRY_SECONDS.
        """
        message = self._message("match.over", text=text)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + END_RETRY_SECONDS
        while True:
            try:
                await self.layer.group_send(self.group, message)
                return
            except cluster_redis.ERRORS as exc:
                self._failed(exc)
                if loop.time() > deadline:
                    logger.error(
                        "match %s: its end could not be announced (Redis unreachable for "
                        "%.0f s); its players see it when they reconnect",
                        self.match_id,
                        END_RETRY_SECONDS,
                    )
                    return
            await asyncio.sleep(RETRY_SECONDS)  # a retry backoff, not a wait for an event

    async def request_rejoin(self) -> None:
        """Ask every socket of the match to join again (after a runner moved process).

        Through the group: a runner that adopted a match knows none of its sockets yet.
        Without Redis, asked again with the next frames once it is back.
        """
        try:
            await self.layer.group_send(self.group, self._message("match.rejoin"))
        except cluster_redis.ERRORS as exc:
            self._rejoin_pending = True
            self._failed(exc)

    def _message(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "fence": self.fence, **fields}


async def receive_states(fanout: Fanout, local: LocalSockets) -> None:
    """This process's fan-out receive loop: hand states that runners in other processes
    publish for this process's sockets."""
    assert local.topic is not None
    queue = fanout.subscribe(local.topic)
    while True:
        message = await queue.get()
        await local.deliver(message["to"], message["event"])
