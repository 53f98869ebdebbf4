"""Who is online, and connected to which match, across every process.

Each process keeps the list of its own sockets and republishes them every
PRESENCE_HEARTBEAT_SECONDS into one Redis sorted set, scored by when each
entry expires (PRESENCE_TTL_SECONDS later). Readers only count entries that
have not expired, so the sockets of a process that died (whose `disconnect()`
never ran) disappear within PRESENCE_TTL_SECONDS, with no cleanup by anyone
(`RedisPresenceStore`). Without Redis there is one process and its own list is the
answer (`LocalPresenceStore`). `games.cluster.shared()` picks the store;
`LocalPresence` is this process's list, with Redis or without.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from games import cluster
from games.cluster import redis as cluster_redis


@dataclass(frozen=True)
class Connection:
    """One socket: who, in which match ("" for the lobby), on which process."""

    player_id: int
    match_id: str
    process: str
    channel: str

    def member(self) -> str:
        return f"{self.player_id}|{self.match_id}|{self.process}|{self.channel}"

    @classmethod
    def parse(cls, member: str) -> Connection:
        player, match, process, channel = member.split("|", 3)
        return cls(int(player), match, process, channel)


class LocalPresence:
    """This process's sockets, and the heartbeat that publishes them to the shared list.

    Every process has one (the runtime makes it), with Redis or without: the shared
    list (`PresenceStore`, picked by `games.cluster.shared()`) is where readers look.
    """

    def __init__(self) -> None:
        global _this_process
        self.connections: set[Connection] = set()
        self._task: asyncio.Task[None] | None = None
        _this_process = self  # the runtime makes one per process

    async def add(self, connection: Connection) -> None:
        self.connections.add(connection)
        store = cluster.shared().presence
        await self._publish(store, [connection])
        if store.expires and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._heartbeat())

    def forget(self, connection: Connection) -> Callable[[], Awaitable[object]] | None:
        """Drop a socket from this process's list; the removal of its shared entry, if any.

        The heartbeat stops republishing it at once; the caller runs the removal
        (retrying it if Redis is away; the entry also expires on its own).
        """
        self.connections.discard(connection)
        return cluster.shared().presence.removal(connection)

    async def remove(self, connection: Connection) -> None:
        removal = self.forget(connection)
        if removal is not None:
            await removal()

    async def _heartbeat(self) -> None:
        while self.connections:
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)  # the heartbeat period
            await self._publish(cluster.shared().presence, list(self.connections))

    async def republish(self) -> None:
        """Publish every socket of this process now (Redis is back, perhaps empty)."""
        await self._publish(cluster.shared().presence, list(self.connections))

    async def _publish(self, store: PresenceStore, connections: list[Connection]) -> None:
        """Publish these sockets; those forgotten while the publish waited are removed again.

        A publish may wait for a pooled connection (or its handshake) while one of
        its sockets ends, and that socket's removal, on a connection already free,
        then reaches Redis first: the publish would bring the entry back for
        PRESENCE_TTL_SECONDS (and, since the heartbeat no longer names it, as a
        member of the set until the next trim). Removing it again after the
        publish's answer orders the removal after it.
        """
        await store.publish(connections)
        gone = [c for c in connections if c not in self.connections]
        if gone:
            await store.unpublish(gone)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class PresenceStore(Protocol):
    """The list of every process's sockets, which readers anywhere see.

    Publishing never raises: an entry that could not be stored is stored again by
    the next heartbeat, or by the recovery after an outage.
    """

    #: Whether entries expire unless published again (each process's heartbeat does).
    expires: bool

    async def publish(self, connections: list[Connection]) -> None:
        """Store (or refresh) these entries."""

    async def unpublish(self, connections: list[Connection]) -> None:
        """Remove these entries."""

    def removal(self, connection: Connection) -> Callable[[], Awaitable[object]] | None:
        """The removal of one socket's entry, for the caller to run (and retry), or None
        if there is nothing to remove."""

    def current(self, local: LocalPresence | None = None) -> list[Connection]:
        """Every live socket (from sync code: views, the admin); `local` is this
        process's list, if the caller has it."""


class RedisPresenceStore:
    """One Redis sorted set for every process, scored by when each entry expires."""

    expires = True

    async def publish(self, connections: list[Connection]) -> None:
        if not connections:
            return
        expires = time.time() + settings.PRESENCE_TTL_SECONDS
        try:
            client = cluster_redis.async_client()
            await client.zadd(_key(), {c.member(): expires for c in connections})
            # Drop what expired, so the set stays the size of what is online.
            await client.zremrangebyscore(_key(), "-inf", time.time())
        except cluster_redis.ERRORS as exc:
            cluster_redis.outage.failed("presence", exc)

    async def unpublish(self, connections: list[Connection]) -> None:
        # Redis unreachable: the entries expire on their own, so never an error here.
        try:
            await cluster_redis.async_client().zrem(_key(), *(c.member() for c in connections))
        except cluster_redis.ERRORS as exc:
            cluster_redis.outage.failed("presence", exc)

    def removal(self, connection: Connection) -> Callable[[], Awaitable[object]] | None:
        return functools.partial(_unpublish, connection)

    def current(self, local: LocalPresence | None = None) -> list[Connection]:
        members = cluster_redis.sync_client().zrangebyscore(_key(), time.time(), "+inf")
        return [Connection.parse(_text(m)) for m in members]


class LocalPresenceStore:
    """One process: its own list is the answer, and there is nothing to publish."""

    expires = False

    async def publish(self, connections: list[Connection]) -> None:
        pass

    async def unpublish(self, connections: list[Connection]) -> None:
        pass

    def removal(self, connection: Connection) -> Callable[[], Awaitable[object]] | None:
        return None

    def current(self, local: LocalPresence | None = None) -> list[Connection]:
        local = local or _this_process
        return sorted(local.connections if local else [], key=lambda c: c.member())


def _key() -> str:
    return cluster_redis.key("presence")


async def _unpublish(connection: Connection) -> None:
    """One entry's removal; raises if Redis is away (the caller retries it)."""
    await cluster_redis.async_client().zrem(_key(), connection.member())


# This process's LocalPresence, which sync readers (views, the admin) read without
# Redis: they see the sockets through this layer, never through the runtime.
_this_process: LocalPresence | None = None


def current(local: LocalPresence | None = None) -> list[Connection]:
    """Every live socket (from sync code: views, the admin)."""
    return cluster.shared().presence.current(local)


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def online_players(connections: list[Connection]) -> set[int]:
    return {c.player_id for c in connections}


def by_match(connections: list[Connection]) -> dict[str, set[int]]:
    """Connected player ids per match."""
    matches: dict[str, set[int]] = {}
    for c in connections:
        if c.match_id:
            matches.setdefault(c.match_id, set()).add(c.player_id)
    return matches


def reset_for_tests() -> None:
    """Forget this process's LocalPresence (the runtime's reset_for_tests calls this)."""
    global _this_process
    _this_process = None
