"""The match socket: authenticate, validate each frame, hand it to the runner, forward frames.

Thin by design: rules live in the engine, decisions in the runner, writes in
services. Per message the consumer does no database work and no thread hop
(see `dispatch`), and forwards the runner's frames as the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from games import access, events, presence, protocol, services, tickets
from games.engine import get_game
from games.engine.base import InvalidInput
from games.limits import TokenBucket
from games.protocol import CloseCode, ErrorCode
from games.storage import DatabaseStore
from games.supervisor import get_supervisor

logger = logging.getLogger(__name__)

# Inputs arrive at the tick rate (20/s); the burst absorbs a backed-up client flushing.
MESSAGES_PER_SECOND = 30
MESSAGE_BURST = 60
CHAT_PER_SECOND = 1
CHAT_BURST = 5
# Error frames before the socket is closed for abuse.
MAX_STRIKES = 20


class GameSocketConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    """Base of our sockets: plain receive loops, and dispatch without a thread hop."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels' own loop (await_many_dispatch) creates a task and waits on a set
        # of futures for every message. Here each source has a plain loop of its
        # own: frames from the client, and events from the channel layer (rare:
        # chat, lifecycle announcements; runners' frames come through the fan-out).
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is None:
            raise ImproperlyConfigured("The game sockets need a channel layer (CHANNEL_LAYERS).")
        self.channel_name = await self.channel_layer.new_channel()
        layer_events = asyncio.get_running_loop().create_task(self._receive_layer_events())
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            layer_events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await layer_events

    async def _receive_layer_events(self) -> None:
        while True:
            message = await self.channel_layer.receive(self.channel_name)
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("%s could not handle %s", type(self).__name__, message["type"])

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch awaits aclose_old_connections() before every
        # handler: a hop to the single sync thread per frame and per tick. Our
        # consumers touch the database only while connecting, through
        # database_sync_to_async, which closes stale connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class MatchConsumer(GameSocketConsumer):
    connection: access.MatchConnection | None = None
    entry: presence.Connection | None = None  # this socket in the presence list
    over = False
    attached = False  # registered with this process's supervisor
    fence = 0  # highest runner token seen: messages of older runners are dropped

    # --- Connect and disconnect -----------------------------------------------------------

    async def connect(self) -> None:
        self.match_id = str(self.scope["url_route"]["kwargs"]["match_id"])
        self.messages = TokenBucket(MESSAGES_PER_SECOND, MESSAGE_BURST)
        self.chats = TokenBucket(CHAT_PER_SECOND, CHAT_BURST)
        self.strikes = 0
        offered = list(self.scope.get("subprotocols") or [])
        try:
            self.subprotocol = protocol.choose_subprotocol(offered)
        except protocol.UnsupportedSubprotocol:
            # Echo the client's own offer so its browser completes the handshake
            # and sees the close code, instead of a bare failed connection.
            await self.accept(subprotocol=offered[0])
            await self._refuse(CloseCode.UNSUPPORTED_PROTOCOL)
            return
        self.encoding = self.subprotocol or protocol.SUBPROTOCOL_JSON
        # Ticks of states sent since the client's last acknowledgement (once it acks).
        self.acked: int | None = None
        self.unacked: deque[int] = deque()
        self.unacked_limit = settings.MAX_UNACKED_STATES
        # Accept first: a close before accept() reaches the client as a bare HTTP 403,
        # without the code that tells it why and whether to retry.
        await self.accept(subprotocol=self.subprotocol)
        user = await self._identify()
        if user is None:
            await self._refuse(CloseCode.NOT_AUTHENTICATED)
            return
        try:
            self.connection = await database_sync_to_async(access.get_match_connection)(
                user, self.match_id
            )
        except services.MatchNotFound:
            await self._refuse(CloseCode.UNKNOWN_MATCH)
            return
        except services.PlayerBanned as exc:
            await self._refuse(CloseCode.FORBIDDEN, exc.message)
            return
        except access.NotAllowed as exc:
            await self._refuse(CloseCode.FORBIDDEN, exc.reason)
            return
        # A real-time game's inputs are superseded every tick, so they may take the
        # lossy fast path to a runner elsewhere; a turn-based move must not be lost.
        self.lossy_inputs = not get_game(self.connection.game).turn_based
        group = events.match_group(self.match_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        if self.connection.status in ("finished", "aborted"):
            await self._welcome_to_finished_match()
            return
        if get_supervisor().draining:
            await self._refuse(CloseCode.RESTARTING)
            return
        supervisor = get_supervisor()
        supervisor.attach(self.match_id, self)  # before joining: the welcome comes straight here
        self.attached = True
        await self._join()
        self.entry = presence.Connection(
            self.connection.player_id, self.match_id, supervisor.holder, self.channel_name
        )
        await supervisor.presence.add(self.entry)

    async def _join(self) -> None:
        assert self.connection is not None
        await self._post(
            "join",
            seat=self.connection.seat,
            name=self.connection.display_name,
            subprotocol=self.subprotocol,
        )

    async def _identify(self) -> Any:
        """The session's user, or the user of a valid single-use ticket in the query string."""
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return user
        query = parse_qs(self.scope.get("query_string", b"").decode())
        ticket = (query.get("ticket") or [""])[0]
        if not ticket:
            return None
        user_id = await tickets.redeem(ticket, self.match_id)
        if user_id is None:
            return None
        return await get_user_model().objects.filter(pk=user_id, is_active=True).afirst()

    async def _refuse(self, code: int, reason: str = "") -> None:
        reason = reason or protocol.CLOSE_REASONS[code]
        # daphne drops close reasons, so the reason travels in a frame just before the close.
        await self.send(
            text_data=protocol.encode({"type": "closing", "code": code, "reason": reason})
        )
        await self.close(code=code, reason=reason)

    async def refuse_for_restart(self, code: int) -> None:
        """Called by the supervisor's drain: this process is going away; reconnect elsewhere."""
        self.over = True  # nothing more to tell the runner; it has moved on
        await self._refuse(code)

    async def _welcome_to_finished_match(self) -> None:
        assert self.connection is not None
        self.over = True
        result = await DatabaseStore().result(self.match_id)
        await self.send(
            text_data=protocol.encode(
                {
                    "type": "welcome",
                    "protocol": protocol.PROTOCOL_VERSION,
                    "subprotocol": self.subprotocol or protocol.SUBPROTOCOL_JSON,
                    "match": {
                        "id": self.match_id,
                        "game": self.connection.game,
                        "status": self.connection.status,
                    },
                    "you": {
                        "player_id": self.connection.player_id,
                        "seat": self.connection.seat,
                        "role": self.connection.role,
                    },
                    "players": [],
                    "tick": 0,
                    "state": None,
                    "result": result,
                    "server_time": protocol.server_time_ms(),
                }
            )
        )

    async def disconnect(self, code: int) -> None:
        if self.entry is not None:
            await get_supervisor().presence.remove(self.entry)
        if self.attached:
            get_supervisor().detach(self.match_id, self)
        if self.attached and not self.over and not get_supervisor().draining:
            await self._post("leave")

    # --- Frames from the client -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.connection is None:
            return
        if not self.messages.allow():
            await self._strike(ErrorCode.RATE_LIMITED, "Too many messages; slow down.")
            return
        try:
            message = protocol.decode(text_data if text_data is not None else bytes_data or b"")
        except protocol.ProtocolError as exc:
            await self._strike(exc.code, exc.message)
            return
        if isinstance(message, protocol.Ping):
            await self.send(text_data=protocol.pong(message))
        elif isinstance(message, protocol.Input):
            if message.ack is not None:
                self._acknowledge(message.ack)
            await self._input(message)
        elif isinstance(message, protocol.Ack):
            self._acknowledge(message.tick)
        elif isinstance(message, protocol.Chat):
            await self._chat(message)
        elif isinstance(message, protocol.Ready):
            await self._post("ready")
        elif isinstance(message, protocol.Resync):
            self._forget_acknowledgements()  # the client starts over from a full state
            await self._post("resync")

    def _acknowledge(self, tick: int) -> None:
        """The client has the state of `tick`: deltas may start from it (it is the newest)."""
        if self.acked is None or tick > self.acked:
            self.acked = tick
        while self.unacked and self.unacked[0] <= tick:
            self.unacked.popleft()

    def _forget_acknowledgements(self) -> None:
        self.acked = None
        self.unacked.clear()

    async def _input(self, message: protocol.Input) -> None:
        assert self.connection is not None
        if self.connection.seat is None:
            await self._error(ErrorCode.SPECTATOR, "Spectators cannot send inputs.")
        elif self.over:
            await self._error(ErrorCode.NOT_ACTIVE, "The match is over.")
        else:
            try:
                data = self._game_input(message.data)
            except InvalidInput as exc:
                await self._strike(ErrorCode.INVALID, exc.reason)
                return
            await self._post("input", lossy=self.lossy_inputs, data=data, ack=message.ack)

    def _game_input(self, raw: Any) -> dict[str, Any]:
        """Only what fits the game's input schema goes on: the runner applies and logs it."""
        assert self.connection is not None
        game = get_game(self.connection.game)
        return game.dump_input(game.parse_input(raw))

    async def _chat(self, message: protocol.Chat) -> None:
        assert self.connection is not None
        text = message.text.strip()
        if not text or len(text) > protocol.MAX_CHAT_CHARS:
            await self._error(
                ErrorCode.CHAT_LIMIT,
                f"Chat messages are 1 to {protocol.MAX_CHAT_CHARS} characters.",
            )
            return
        if not self.chats.allow():
            await self._error(ErrorCode.CHAT_LIMIT, "You are chatting too fast.")
            return
        frame = protocol.encode(
            {
                "type": "chat",
                "from": {
                    "player_id": self.connection.player_id,
                    "name": self.connection.display_name,
                    "seat": self.connection.seat,
                },
                "text": text,
                "server_time": protocol.server_time_ms(),
            }
        )
        await self.channel_layer.group_send(
            events.match_group(self.match_id), {"type": "match.frame", "text": frame}
        )

    async def _strike(self, code: str, message: str) -> None:
        self.strikes += 1
        if self.strikes > MAX_STRIKES:
            close = CloseCode.TOO_LARGE if code == ErrorCode.TOO_LARGE else CloseCode.ABUSE
            await self._refuse(close)
            return
        await self._error(code, message)

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error(code, message))

    async def _post(self, op: str, *, lossy: bool = False, **fields: Any) -> None:
        assert self.connection is not None
        message = {"op": op, "player_id": self.connection.player_id, "channel": self.channel_name}
        await get_supervisor().post(self.match_id, {**message, **fields}, lossy=lossy)

    # --- Events from the runner and services -------------------------------------------------

    def _from_current_runner(self, event: dict[str, Any]) -> bool:
        """False for a message of a runner older than one already heard (it lost its lease)."""
        fence = event.get("fence")
        if fence is None:
            return True  # single-process mode, or an announcement from a service
        if fence < self.fence:
            return False
        self.fence = fence
        return True

    async def match_frame(self, event: dict[str, Any]) -> None:
        """An encoded frame from the runner: forward the same text."""
        if self._from_current_runner(event):
            await self.send(text_data=event["text"])

    async def match_state(self, event: dict[str, Any]) -> None:
        """A state from the runner, in each encoding in use: send the one this socket speaks.

        Never queues without bound for a slow reader: a client that acknowledges
        states but is MAX_UNACKED_STATES behind gets none until it catches up
        (states are complete or deltas from what it has, so skipping loses nothing).
        """
        if not self._from_current_runner(event):
            return
        if self.acked is not None and len(self.unacked) >= self.unacked_limit:
            return
        # The ASGI message goes straight to the server: this runs once per socket and
        # tick, and the consumer's send helpers only rebuild the same dict.
        if self.encoding == protocol.SUBPROTOCOL_COMPACT and "compact" in event:
            delta = next((d for base, d in event["deltas"] if base == self.acked), None)
            await self.base_send({"type": "websocket.send", "bytes": delta or event["compact"]})
        elif "bytes" in event and self.encoding != protocol.SUBPROTOCOL_JSON:
            await self.base_send({"type": "websocket.send", "bytes": event["bytes"]})
        else:
            await self.base_send({"type": "websocket.send", "text": event["text"]})
        if self.acked is not None:
            self.unacked.append(event["tick"])

    async def match_over(self, event: dict[str, Any]) -> None:
        """The match's result, or its abort: forward it, and refuse inputs from now on."""
        if self._from_current_runner(event):
            self.over = True
            await self.send(text_data=event["text"])

    async def match_rejoin(self, event: dict[str, Any]) -> None:
        """The match moved to another process's runner: join it, to get a fresh welcome."""
        if self._from_current_runner(event) and self.connection is not None and not self.over:
            self._forget_acknowledgements()  # the new runner starts with full states
            await self._join()

    async def match_close(self, event: dict[str, Any]) -> None:
        if self._from_current_runner(event):
            await self._refuse(event["code"])


# The lobby socket carries pings and the odd queue request; more than this is a broken client.
LOBBY_MESSAGES_PER_SECOND = 2
LOBBY_MESSAGE_BURST = 10


class LobbyConsumer(GameSocketConsumer):
    """The live lobby: open matches and players online, pushed when they change.

    Anyone may watch it; a signed-in player also appears in presence, may queue
    for a match ("Play now"), and gets messages meant for them (matchmaking) on
    their `player.<id>` group.
    """

    entry: presence.Connection | None = None

    async def connect(self) -> None:
        self.messages = TokenBucket(LOBBY_MESSAGES_PER_SECOND, LOBBY_MESSAGE_BURST)
        # Every lobby frame is JSON text. A browser that offered subprotocols fails the
        # handshake unless the server picks one, so accept JSON when it is offered.
        offered = self.scope.get("subprotocols") or []
        await self.accept(
            subprotocol=protocol.SUBPROTOCOL_JSON if protocol.SUBPROTOCOL_JSON in offered else None
        )
        self.groups.append(events.LOBBY_GROUP)
        await self.channel_layer.group_add(events.LOBBY_GROUP, self.channel_name)
        supervisor = get_supervisor()
        self.player = await database_sync_to_async(access.get_player)(self.scope.get("user"))
        if self.player is not None:
            group = events.player_group(self.player.pk)
            self.groups.append(group)
            await self.channel_layer.group_add(group, self.channel_name)
            self.entry = presence.Connection(
                self.player.pk, "", supervisor.holder, self.channel_name
            )
            await supervisor.presence.add(self.entry)
        await supervisor.lobby.add(self)

    async def disconnect(self, code: int) -> None:
        supervisor = get_supervisor()
        supervisor.lobby.remove(self)
        if self.entry is not None:
            await supervisor.presence.remove(self.entry)
        await supervisor.matchmaking.disconnected(self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.messages.allow():
            await self.send(text_data=protocol.error(ErrorCode.RATE_LIMITED, "Slow down."))
            return
        try:
            message = protocol.decode_lobby(
                text_data if text_data is not None else bytes_data or b""
            )
        except protocol.ProtocolError as exc:
            await self.send(text_data=protocol.error(exc.code, exc.message))
            return
        if isinstance(message, protocol.Ping):
            await self.send(text_data=protocol.pong(message))
        elif self.player is None:
            await self.send(
                text_data=protocol.error(
                    ErrorCode.NOT_AUTHENTICATED, "Play as a guest or log in to use Play now."
                )
            )
        else:
            await self._matchmaking(message)

    async def _matchmaking(self, message: protocol.JoinQueue | protocol.LeaveQueue) -> None:
        assert self.player is not None
        hub = get_supervisor().matchmaking
        try:
            if isinstance(message, protocol.JoinQueue):
                frame = await hub.join(self.player.pk, message.game, self.channel_name)
            else:
                frame = await hub.leave(self.player.pk, self.channel_name)
        except services.AlreadyPlaying as exc:
            url = reverse("match", args=[exc.match_id])
            frame = protocol.in_match(exc.message, exc.match_id, exc.game, url)
        except services.ServiceError as exc:
            frame = protocol.error(exc.code, exc.message)
        await self.send(text_data=frame)

    async def lobby_changed(self, event: dict[str, Any]) -> None:
        get_supervisor().lobby.changed()

    async def matchmaking_matched(self, event: dict[str, Any]) -> None:
        """A match was made for this player (from any of their sockets): forward its id."""
        get_supervisor().matchmaking.forget(self.channel_name)
        await self.send(text_data=event["text"])

    async def matchmaking_unqueued(self, event: dict[str, Any]) -> None:
        """The server took this player out of the queue (banned since queueing, say)."""
        get_supervisor().matchmaking.forget(self.channel_name)
        await self.send(text_data=event["text"])

    async def matchmaking_lost_place(self, event: dict[str, Any]) -> None:
        """This socket's entry lapsed or moved to another socket: say so, unless it is old news."""
        if get_supervisor().matchmaking.lost_place_news(self.channel_name):
            await self.send(text_data=event["text"])
