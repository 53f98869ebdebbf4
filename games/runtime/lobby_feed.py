"""The live lobby: one snapshot per process, pushed to that process's lobby sockets.

Services announce "the lobby changed" after commit to the `lobby` group. Each
process coalesces those into at most one refresh every COALESCE_SECONDS: it
reads the open matches once, counts who is online once, encodes the frame
once and sends the same text to each of its lobby sockets. It also refreshes
every REFRESH_SECONDS, for the online count.

What keeps the frame true (a start must never be shown as an open match):
- Refreshes run one at a time, so a read that began earlier can never send its
  frame after one that began later.
- A change heard while a refresh is already reading leads to another refresh:
  that read may have missed it.
- The frame is kept only while this process has lobby sockets: they are its
  members of the `lobby` group, so with none, changes go unheard here, and the
  next socket to arrive gets a fresh read instead of a frame nobody kept true.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from channels.db import database_sync_to_async

from games import protocol
from games.cluster import presence
from games.payloads import lobby_games

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.3
REFRESH_SECONDS = 5.0


class LobbyFeed:
    """This process's lobby sockets and their shared, coalesced snapshot."""

    def __init__(self, local_presence: presence.LocalPresence) -> None:
        self.sockets: set[Any] = set()
        self.local_presence = local_presence
        self.frame: str | None = None
        self._pending: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._dirty = False  # a change was heard that no refresh has read since
        self._refreshing = asyncio.Lock()

    async def add(self, consumer: Any) -> None:
        self.sockets.add(consumer)
        if self.frame is None:
            await self.refresh()  # sends to every socket, this one included
        else:
            await consumer.send(text_data=self.frame)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def remove(self, consumer: Any) -> None:
        self.sockets.discard(consumer)
        if not self.sockets:
            self.frame = None  # from now on this process hears no changes (see above)

    def changed(self) -> None:
        """Something in the lobby changed: refresh soon, once for all the changes until then."""
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._refresh_later())

    async def _refresh_later(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)  # the coalescing window
        # A change heard during a refresh's read may be missing from it: read again.
        while self._dirty:
            self._dirty = False
            await self.refresh()

    async def _tick(self) -> None:
        while self.sockets:
            await asyncio.sleep(REFRESH_SECONDS)  # the online count changes without events
            try:
                await self.refresh()
            except Exception as exc:
                # The database or the layer is away: the sockets keep their last frame and
                # the next turn reads again (readiness and the metrics report the outage).
                logger.warning("lobby refresh failed: %s: %s", type(exc).__name__, exc)

    async def refresh(self) -> None:
        """Read the lobby and send its frame to every socket here, if it changed."""
        # One at a time, sends included: the frame each socket gets last is the latest read.
        async with self._refreshing:
            online = len(presence.online_players(await _current(self.local_presence)))
            frame = protocol.lobby(await database_sync_to_async(lobby_games)(), online)
            if not self.sockets or frame == self.frame:
                return  # nobody to tell (and nobody hearing changes), or nothing changed
            self.frame = frame
            for consumer in list(self.sockets):
                await consumer.send(text_data=frame)

    def stop(self) -> None:
        for task in (self._pending, self._ticker):
            if task is not None:
                task.cancel()


async def _current(local_presence: presence.LocalPresence) -> list[presence.Connection]:
    connections = await database_sync_to_async(presence.current)(local_presence)
    return cast(list[presence.Connection], connections)
