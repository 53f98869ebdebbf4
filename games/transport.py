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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

from games import events
from games.cluster import redis as cluster_redis

if TYPE_CHECKING:
    from games.fanout import Fanout

logger = logging.getLogger(__name__)

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

    async def dispatch(self, message: dict[str, Any]) -> None: ...
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
        return None if self.process is None else events.process_topic(self.process)

    def in_this_process(self, channel: str) -> bool:
        return process_of(channel) == self.process

    async def deliver(self, channels: Iterable[str], event: dict[str, Any]) -> None:
        """Hand `event` to each named socket still here; one bad socket spoils nothing."""
        for channel in channels:
            socket = self.by_channel.get(channel)
            if socket is None:
                continue  # it disconnected since the runner last heard of it
            try:
                await socket.dispatch(event)
            except Exception:
                # A bug serving this socket: logged once, not at every tick. The socket
                # leaves the fan-out and is closed, so its client reconnects afresh.
                logger.exception(
                    "could not deliver %s to %s; closing it", event.get("type"), channel
                )
                self.remove(socket)
                self._closing.add(asyncio.ensure_future(socket.abandon()))
                self._closing = {task for task in self._closing if not task.done()}


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
        self.group = events.match_group(match_id)
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
                await self._publish(events.process_topic(process), {"to": names, "event": event})
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
