"""The lobby socket: the lobby feed, presence, and joining and leaving the matchmaking queue."""

from __future__ import annotations

import functools
from typing import Any

from channels.db import database_sync_to_async
from django.urls import reverse

from games import access, protocol, services
from games.cluster import presence
from games.protocol import CloseCode, ErrorCode
from games.runtime import messages
from games.runtime.process import get_runtime
from games.sockets.base import GameSocketConsumer
from games.sockets.limits import TokenBucket

# The lobby socket carries pings and the odd queue request; more than this is a broken client.
LOBBY_MESSAGES_PER_SECOND = 2

LOBBY_MESSAGE_BURST = 10


# Joining or leaving the queue: a player changing their mind, not a loop.
QUEUE_REQUESTS_PER_SECOND = 1

QUEUE_REQUEST_BURST = 5


class LobbyConsumer(GameSocketConsumer):
    """The live lobby: open matches and players online, pushed when they change.

    Anyone may watch it; a signed-in player also appears in presence, may queue
    for a match ("Play now"), and gets messages meant for them (matchmaking) on
    their `player.<id>` group.
    """

    kind = "lobby"

    entry: presence.Connection | None = None

    player = None
    admitted = False

    async def connect(self) -> None:
        self.messages = TokenBucket(LOBBY_MESSAGES_PER_SECOND, LOBBY_MESSAGE_BURST)
        self.queue_requests = TokenBucket(QUEUE_REQUESTS_PER_SECOND, QUEUE_REQUEST_BURST)
        self.strikes = 0
        # Every lobby frame is JSON text. A browser that offered subprotocols fails the
        # handshake unless the server picks one, so accept JSON when it is offered.
        offered = self.scope.get("subprotocols") or []
        await self.accept(
            subprotocol=protocol.SUBPROTOCOL_JSON if protocol.SUBPROTOCOL_JSON in offered else None
        )
        over_cap = self._admit(self.scope.get("user"), lobby=True)
        if over_cap is not None:
            await self._refuse(CloseCode.TOO_MANY_CONNECTIONS, over_cap)
            return
        self.admitted = True
        self.groups.append(messages.LOBBY_GROUP)
        await self.channel_layer.group_add(messages.LOBBY_GROUP, self.channel_name)
        supervisor = get_runtime()
        self.player = await database_sync_to_async(access.get_player)(self.scope.get("user"))
        if self.player is not None:
            # Queue news for this player, and what closes all their sockets (a ban).
            for group in (
                messages.player_group(self.player.pk),
                messages.player_sockets_group(self.player.pk),
            ):
                self.groups.append(group)
                await self.channel_layer.group_add(group, self.channel_name)
            self.entry = presence.Connection(
                self.player.pk, "", supervisor.holder, self.channel_name
            )
            await supervisor.presence.add(self.entry)
        await supervisor.lobby.add(self)

    async def disconnect(self, code: int) -> None:
        """Called once by `_end`: out of the lobby, presence and the queue."""
        supervisor = get_runtime()
        supervisor.lobby.remove(self)
        if self.entry is not None:
            self._forget_presence(self.entry)
        hub = supervisor.matchmaking
        queued = hub.local.get(self.channel_name)
        hub.forget(self.channel_name)
        if queued is not None:  # its player leaves the queue it put them in
            leave = functools.partial(
                hub.queue().leave, queued.player_id, self.channel_name, gone=True
            )
            self._remove_later(f"the queue place of player {queued.player_id}", leave)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.admitted:
            return  # over a cap, and closing
        if not self.messages.allow():
            await self._strike(ErrorCode.RATE_LIMITED, "Too many messages; slow down.")
            return
        try:
            message = protocol.decode_lobby(
                text_data if text_data is not None else bytes_data or b""
            )
        except protocol.ProtocolError as exc:
            await self._strike(exc.code, exc.message)
            return
        if isinstance(message, protocol.Ping):
            await self.send(text_data=protocol.pong(message))
        elif self.player is None:
            await self._strike(
                ErrorCode.NOT_AUTHENTICATED, "Play as a guest or log in to use Play now."
            )
        elif not self.queue_requests.allow():
            await self._strike(ErrorCode.RATE_LIMITED, "You are joining and leaving too fast.")
        else:
            await self._matchmaking(message)

    async def _matchmaking(self, message: protocol.JoinQueue | protocol.LeaveQueue) -> None:
        assert self.player is not None
        hub = get_runtime().matchmaking
        try:
            if isinstance(message, protocol.JoinQueue):
                frame = await hub.join(self.player.pk, message.game, self.channel_name)
            else:
                frame = await hub.leave(self.player.pk, self.channel_name)
        except services.AlreadyPlaying as exc:
            url = reverse("match", args=[exc.match_id])
            # An error that names the match as `matched` does, so the client can offer to rejoin.
            match = protocol.MatchLink(str(exc.match_id), exc.game, url)
            frame = protocol.error(exc.code, exc.message, match=match)
        except services.ServiceError as exc:
            frame = protocol.error(exc.code, exc.message)
        await self.send(text_data=frame)

    async def lobby_changed(self, event: dict[str, Any]) -> None:
        get_runtime().lobby.changed()

    async def matchmaking_matched(self, event: dict[str, Any]) -> None:
        """A match was made for this player (from any of their sockets): forward its id."""
        get_runtime().matchmaking.forget(self.channel_name)
        await self.send(text_data=event["text"])

    async def rematch_changed(self, event: dict[str, Any]) -> None:
        """A finished match's rematch changed (someone asked, declined or left): forward it."""
        await self.send(text_data=event["text"])

    async def matchmaking_unqueued(self, event: dict[str, Any]) -> None:
        """The server took this player out of the queue (banned since queueing, say)."""
        get_runtime().matchmaking.forget(self.channel_name)
        await self.send(text_data=event["text"])

    async def matchmaking_lost_place(self, event: dict[str, Any]) -> None:
        """This socket's entry lapsed or moved to another socket: say so, unless it is old news."""
        if get_runtime().matchmaking.lost_place_news(self.channel_name):
            await self.send(text_data=event["text"])
