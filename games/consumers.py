"""The match socket: authenticate, validate each frame, hand it to the runner, forward frames.

Thin by design: rules live in the engine, decisions in the runner, writes in
services. Per message the consumer does no database work and no thread hop
(see `dispatch`), and forwards the runner's frames as the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import redis
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django import db
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from games import access, events, limits, protocol, services
from games.cluster import presence, tickets
from games.cluster import redis as cluster_redis
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
# How long a closing socket's task waits for its removals from Redis; they go on after.
CLEANUP_WAIT_SECONDS = 2.0
# A socket's wait before listening on its channel again while Redis is unreachable.
LAYER_RETRY_SECONDS = 0.5
# Error frames before the socket is closed for abuse (4008, or 4009 for oversized
# frames); after that nothing it sends is read or answered.
MAX_STRIKES = 20
# A socket's unsent bytes are read after every so many states (half a second of
# arena; reading the kernel's queue is a 2 us system call), so the bound is
# MAX_SOCKET_BACKLOG_BYTES plus at most this many states.
BACKLOG_CHECK_EVERY = 10


class GameSocketConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    """Base of our sockets: plain receive loops, dispatch without a thread hop, and the
    one place that owns a socket's lifetime.

    However a socket ends (the client closes, the connection resets, the server
    closes it for abuse, a handler raises, Redis or the database is away), `_end`
    runs exactly once: the subclass's `disconnect` drops its registrations in this
    process at once, and what it left in Redis is removed by the process's
    Cleanup (bounded concurrency, retried until done; see games/cleanup.py).
    """

    closing = False  # a close was sent or received: frames either way are dropped
    strikes = 0  # error frames sent for bad or unwanted frames (see `_strike`)
    backlog: Callable[[], int] | None = None  # bytes queued for the client, if knowable
    states_sent = 0
    accepted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels' own loop (await_many_dispatch) creates a task and waits on a set
        # of futures for every message. Here each source has a plain loop of its
        # own: frames from the client, and events from the channel layer (rare:
        # chat, lifecycle announcements; runners' frames come through the fan-out).
        self.scope = scope
        self.server_send = send  # the server's own send (limits read its transport)
        self.base_send = self._send_to_server
        self._removals: list[asyncio.Future[None]] = []
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is None:
            raise ImproperlyConfigured("The game sockets need a channel layer (CHANNEL_LAYERS).")
        self.channel_name = await self.channel_layer.new_channel()
        layer_events = asyncio.get_running_loop().create_task(self._receive_layer_events())
        code = 1006  # no close frame: cancelled (daphne gave up on us) or the loop broke
        try:
            code = await self._serve(receive)
        finally:
            layer_events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await layer_events
            await self._end(code)

    async def _serve(self, receive: Any) -> int:
        """Hand each message from the server to its handler; the close code at the end."""
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.closing = True
                return int(message.get("code") or 1006)
            if self.closing and message["type"] == "websocket.receive":
                continue  # closing: frames still in flight are not read
            try:
                await self.dispatch(message)
            except StopConsumer:
                return 1000
            except Exception as exc:
                if not service_unavailable(exc):
                    raise  # a bug: daphne logs it once and closes 1011; `_end` still runs
                await self._unavailable(exc)

    async def _unavailable(self, exc: Exception) -> None:
        """Redis or the database is unreachable: say so with 4013, and the client retries."""
        logger.warning(
            "%s %s closed with %d: %s (%s)",
            type(self).__name__,
            self.channel_name,
            CloseCode.TRY_AGAIN,
            type(exc).__name__,
            exc,
        )
        if not self.accepted:
            await self.accept(subprotocol=subprotocol_to_close(self.scope))
        await self._refuse(CloseCode.TRY_AGAIN)

    async def _send_to_server(self, message: dict[str, Any]) -> None:
        """Every frame out goes here: nothing is sent once the socket is closing.

        A client may close (or reset) at any moment, also between our decision to
        send and the send itself; the frame is then dropped, not an error.
        """
        if self.closing:
            return
        kind = message["type"]
        if kind == "websocket.close":
            self.closing = True
        elif kind == "websocket.accept":
            self.accepted = True
        try:
            await self.server_send(message)
        except _CLOSED_ERRORS:
            self.closing = True  # the client closed first: nothing more to send

    async def _refuse(self, code: int, reason: str = "") -> None:
        """Close with `code`; the reason travels in a `closing` frame just before the close.

        (daphne drops close reasons.) Idempotent: a socket closes once.
        """
        if self.closing:
            return
        reason = reason or protocol.CLOSE_REASONS.get(code, "")
        await self.send(
            text_data=protocol.encode({"type": "closing", "code": code, "reason": reason})
        )
        await self.close(code=code, reason=reason)

    async def _receive_layer_events(self) -> None:
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except cluster_redis.ERRORS as exc:
                # Redis away: the socket stays open and listens again when it is back
                # (the process logs the outage once, not once per socket).
                cluster_redis.outage.failed("a socket's channel", exc)
                await asyncio.sleep(LAYER_RETRY_SECONDS)  # a retry backoff
                continue
            if self.closing:
                continue
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

    async def abandon(self) -> None:
        """Something here failed to serve this socket: close it so its client reconnects."""
        await self._refuse(CloseCode.TRY_AGAIN)

    # --- The end --------------------------------------------------------------------------

    def _remove_later(self, what: str, job: Any) -> None:
        """Remove something this socket left in Redis, through the process's Cleanup."""
        self._removals.append(get_supervisor().cleanup.submit(what, job))

    def _forget_presence(self, entry: presence.Connection) -> None:
        removal = get_supervisor().presence.forget(entry)
        if removal is not None:
            self._remove_later(f"the presence of {entry.channel}", removal)

    async def _end(self, code: int) -> None:
        """However the socket ended: forget it everywhere. Runs once, never raises."""
        self.closing = True
        try:
            await self.disconnect(code)
        except Exception:
            # A bug in a subclass's cleanup: logged; the groups below still go.
            logger.exception("%s %s could not clean up", type(self).__name__, self.channel_name)
        groups: list[str] = list(self.groups or [])
        self.groups.clear()
        for group in groups:
            discard = functools.partial(self.channel_layer.group_discard, group, self.channel_name)
            self._remove_later(f"{self.channel_name} from group {group}", discard)
        if self._removals:
            # Usually done in milliseconds; past the wait they go on without this task.
            await asyncio.wait(self._removals, timeout=CLEANUP_WAIT_SECONDS)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        raise StopConsumer()  # `_serve` ends on the disconnect itself; here for completeness

    # --- Limits (docs/security.md) ---------------------------------------------------------

    def _admit(self, user: Any, *, lobby: bool) -> str | None:
        """Count this socket against the connection caps; the reason if it is over one.

        The count is released when the socket's task ends, however it ends, so
        no path out of a consumer can leak it.
        """
        caps = _caps(self.scope, user, lobby=lobby)
        try:
            release = limits.socket_counts().admit(caps)
        except limits.OverCap as exc:
            return exc.reason
        task = asyncio.current_task()
        assert task is not None
        task.add_done_callback(lambda _task: release())
        return None

    async def _strike(self, code: str, message: str) -> None:
        """An error frame for a bad or unwanted frame; past MAX_STRIKES, a close.

        4009 if the last one was oversized, else 4008. Then the connection is no
        longer read, and frames already read are dropped unanswered (see `_serve`):
        a flood costs a few dozen answers per socket, not one per frame.
        """
        self.strikes += 1
        if self.strikes > MAX_STRIKES:
            limits.stop_reading(self.server_send)
            await self._refuse(
                CloseCode.TOO_LARGE if code == ErrorCode.TOO_LARGE else CloseCode.ABUSE
            )
            return
        await self.send(text_data=protocol.error(code, message))

    def _watch_backlog(self) -> None:
        """Find how to read this socket's unsent bytes (daphne only; see limits)."""
        self.backlog = limits.transport_backlog(self.server_send)
        self.backlog_limit = settings.MAX_SOCKET_BACKLOG_BYTES


def _caps(scope: Any, user: Any, *, lobby: bool) -> list[limits.Cap]:
    caps = []
    signed_in = user is not None and user.is_authenticated
    if signed_in:
        caps.append(
            limits.Cap(
                f"user:{user.pk}",
                settings.MAX_SOCKETS_PER_PLAYER,
                f"You have {settings.MAX_SOCKETS_PER_PLAYER} connections open already;"
                " close another tab first.",
            )
        )
    address = limits.address_key(scope.get("client"))
    if address is not None:
        caps.append(
            limits.Cap(
                f"ip:{address}",
                settings.MAX_SOCKETS_PER_IP,
                "Too many connections from your network; close another tab first.",
            )
        )
        if lobby and not signed_in:
            caps.append(
                limits.Cap(
                    f"anonymous-lobby:{address}",
                    settings.MAX_ANONYMOUS_LOBBY_SOCKETS_PER_IP,
                    "Too many lobby connections from your network; log in or play"
                    " as a guest, or close another tab.",
                )
            )
    return caps


# What a server's send raises for a socket the client has closed meanwhile: autobahn
# (daphne) while the closing handshake runs; OSError for a transport already gone.
_CLOSED_ERRORS: tuple[type[BaseException], ...] = (OSError,)
with contextlib.suppress(ImportError):
    from autobahn.exception import Disconnected

    _CLOSED_ERRORS = (Disconnected, OSError)


def service_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says a service (database, Redis, a full pool) is unreachable, not a bug."""
    return isinstance(exc, (db.OperationalError, db.InterfaceError, redis.RedisError))


def subprotocol_to_close(scope: Any) -> str | None:
    """A subprotocol to accept with just to close: browsers fail a handshake without one."""
    offered = list(scope.get("subprotocols") or [])
    if not offered:
        return None
    return protocol.SUBPROTOCOL_JSON if protocol.SUBPROTOCOL_JSON in offered else offered[0]


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
        self._watch_backlog()
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
        self.sent_tick = -1  # the newest state tick sent: a client may acknowledge up to it
        # Accept first: a close before accept() reaches the client as a bare HTTP 403,
        # without the code that tells it why and whether to retry.
        await self.accept(subprotocol=self.subprotocol)
        user = await self._identify()
        if user is None:
            await self._refuse(CloseCode.NOT_AUTHENTICATED)
            return
        over_cap = self._admit(user, lobby=False)
        if over_cap is not None:
            await self._refuse(CloseCode.TOO_MANY_CONNECTIONS, over_cap)
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
        self.groups.append(group)  # first: a group_add that fails half-way is still undone
        await self.channel_layer.group_add(group, self.channel_name)
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
        """Called once by `_end`: out of presence and the supervisor; the runner hears `leave`."""
        supervisor = get_supervisor()
        if self.entry is not None:
            self._forget_presence(self.entry)
        if self.attached:
            self.attached = False
            # Nothing to tell a runner after the result, or while this process hands over.
            quiet = self.over or supervisor.draining
            sending = supervisor.detach(
                self.match_id, self, leave=None if quiet else self._operation("leave")
            )
            if sending is not None:
                self._remove_later(f"the leave of {self.channel_name} to its runner", sending)

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
            if message.ack is not None and not self._acknowledge(message.ack):
                await self._refuse_acknowledgement(message.ack)
                return
            await self._input(message)
        elif isinstance(message, protocol.Ack):
            if not self._acknowledge(message.tick):
                await self._refuse_acknowledgement(message.tick)
        elif isinstance(message, protocol.Chat):
            await self._chat(message)
        elif isinstance(message, protocol.Ready):
            await self._post("ready")
        elif isinstance(message, protocol.Resync):
            self._forget_acknowledgements()  # the client starts over from a full state
            await self._post("resync")

    def _acknowledge(self, tick: int) -> bool:
        """The client has the state of `tick`: deltas may start from it (it is the newest).

        False, and nothing changes, for a tick this socket was never sent: an ack
        from the future would lift MAX_UNACKED_STATES for a client that reads nothing.
        """
        if tick > self.sent_tick:
            return False
        if self.acked is None or tick > self.acked:
            self.acked = tick
        while self.unacked and self.unacked[0] <= tick:
            self.unacked.popleft()
        return True

    async def _refuse_acknowledgement(self, tick: int) -> None:
        sent = "no state yet" if self.sent_tick < 0 else f"states up to tick {self.sent_tick}"
        await self._strike(
            ErrorCode.INVALID, f"Invalid message: tick {tick} was never sent; you have {sent}."
        )

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

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error(code, message))

    async def _post(self, op: str, *, lossy: bool = False, **fields: Any) -> None:
        await get_supervisor().post(self.match_id, self._operation(op, **fields), lossy=lossy)

    def _operation(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.connection is not None
        return {
            "op": op,
            "player_id": self.connection.player_id,
            "channel": self.channel_name,
            **fields,
        }

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
        if self.closing or not self._from_current_runner(event):
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
        if event["tick"] > self.sent_tick:
            self.sent_tick = event["tick"]
        if self.acked is not None:
            self.unacked.append(event["tick"])
        self.states_sent += 1
        # Every BACKLOG_CHECK_EVERY states: reading the kernel's queue is a system call.
        if (
            self.backlog is not None
            and not self.states_sent % BACKLOG_CHECK_EVERY
            and self.backlog() > self.backlog_limit
        ):
            await self._drop_slow_reader()

    async def _drop_slow_reader(self) -> None:
        """More is queued for this client than MAX_SOCKET_BACKLOG_BYTES: close it, 4011.

        The close frame waits behind the backlog; daphne drops the connection if
        the client does not answer it within a second.
        """
        assert self.backlog is not None and self.connection is not None
        logger.warning(
            "closing a slow reader (%s): %d bytes unsent in match %s for player %s",
            CloseCode.TOO_SLOW,
            self.backlog(),
            self.match_id,
            self.connection.player_id,
        )
        await self._refuse(CloseCode.TOO_SLOW)

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
# Joining or leaving the queue: a player changing their mind, not a loop.
QUEUE_REQUESTS_PER_SECOND = 1
QUEUE_REQUEST_BURST = 5


class LobbyConsumer(GameSocketConsumer):
    """The live lobby: open matches and players online, pushed when they change.

    Anyone may watch it; a signed-in player also appears in presence, may queue
    for a match ("Play now"), and gets messages meant for them (matchmaking) on
    their `player.<id>` group.
    """

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
        """Called once by `_end`: out of the lobby, presence and the queue."""
        supervisor = get_supervisor()
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
