"""What every socket shares, and the middleware that tells a consumer who is connecting.

GameSocketConsumer owns the receive loop, dispatch without a thread hop, a
socket's lifetime (its registrations go at once, what it left in Redis goes
through the Cleanup), strikes and caps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import redis
from channels.auth import AuthMiddleware
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django import db
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from games import protocol
from games.cluster import presence
from games.cluster import redis as cluster_redis
from games.protocol import CloseCode, ErrorCode
from games.runtime import metrics
from games.runtime.process import get_runtime
from games.sockets import limits

logger = logging.getLogger(__name__)

# How long a closing socket's task waits for its removals from Redis; they go on after.
CLEANUP_WAIT_SECONDS = 2.0

# A socket's wait before listening on its channel again while Redis is unreachable.
LAYER_RETRY_SECONDS = 0.5

# Bytes read from one connection per turn of the event loop (see limits.bound_reads):
# 2 KiB is sixty small frames, and any input frame a game's client sends in one read
# (the largest frame allowed, 4 KiB, in two or three). Against four flooders on a slow
# core, 4 KiB let a state wait 170-380 ms; 2 KiB, 110-140 ms (docs/security.md).
READ_BYTES = 2048

# Error frames before the socket is closed for abuse (4008, or 4009 for oversized
# frames); after that nothing it sends is read or answered.
MAX_STRIKES = 20


class GameSocketConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    """Base of our sockets: plain receive loops, dispatch without a thread hop, and the
    one place that owns a socket's lifetime.

    However a socket ends (the client closes, the connection resets, the server
    closes it for abuse, a handler raises, Redis or the database is away), `_end`
    runs exactly once: the subclass's `disconnect` drops its registrations in this
    process at once, and what it left in Redis is removed by the process's
    Cleanup (bounded concurrency, retried until done; see games/runtime/cleanup.py).
    """

    kind = "socket"  # the label of this kind of socket in the metrics (match, lobby)
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
        # The server's own send (limits read its transport), never waiting for the client.
        self.server_send = limits.without_waiting(send)
        limits.bound_reads(self.server_send, READ_BYTES)
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
            # The end before waiting for the layer events to stop: a library may take a
            # cancel for a failed read and go on waiting, and this socket must not stay
            # registered (and heartbeated) meanwhile.
            try:
                await self._end(code)
            finally:
                await _stop(layer_events)

    async def _serve(self, receive: Any) -> int:
        """Hand each message from the server to its handler; the close code at the end."""
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.closing = True
                return int(message.get("code") or 1006)
            frame = message["type"] == "websocket.receive"
            if frame and self.closing:
                continue  # closing: frames still in flight are not read
            try:
                if frame:
                    # Straight to the handler of frames: they are most of what arrives,
                    # and `dispatch` would look the same name up for every one.
                    await self.websocket_receive(message)
                else:
                    await self.dispatch(message)
            except StopConsumer:
                return 1000
            except Exception as exc:
                if not service_unavailable(exc):
                    raise  # a bug: daphne logs it once and closes 1011; `_end` still runs
                await self._unavailable(exc)

    async def _unavailable(self, exc: Exception) -> None:
        """Redis or the database is unreachable: say so with 4013, and the client retries."""
        if isinstance(exc, (db.OperationalError, db.InterfaceError)):
            metrics.database_failed("socket")
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
        except CLOSED_ERRORS:
            self.closing = True  # the client closed first: nothing more to send

    async def _refuse(self, code: int, reason: str = "") -> None:
        """Close with `code`; the reason travels in a `closing` frame just before the close.

        (daphne drops close reasons.) Idempotent: a socket closes once.
        """
        if self.closing:
            return
        reason = reason or protocol.CLOSE_REASONS.get(code, "")
        await self.send(text_data=protocol.closing(code, reason))
        await self.close(code=code, reason=reason)

    async def _receive_layer_events(self) -> None:
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except cluster_redis.ERRORS as exc:
                # Redis away: the socket stays open and listens again when it is back
                # (the process logs the outage once, not once per socket).
                cluster_redis.outage.failed("a socket's channel", exc)
                if self.closing:
                    return
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

    async def player_banned(self, event: dict[str, Any]) -> None:
        """The player was banned (on any process): close with 4003 and the ban's reason.

        `_end` then runs as for any close: a match socket's runner hears the leave.
        """
        await self._refuse(CloseCode.FORBIDDEN, event["reason"])

    async def player_kicked(self, event: dict[str, Any]) -> None:
        """An operator removed the player from a match: its sockets of it close with 4005
        and the reason (on any process); a lobby socket, or another match's, stays open."""
        if str(getattr(self, "match_id", "")).replace("-", "") == event["match"].replace("-", ""):
            await self._refuse(CloseCode.KICKED, event["reason"])

    async def operator_notice(self, event: dict[str, Any]) -> None:
        """An operator's message (a `notice` frame): forwarded as it is."""
        await self.send(text_data=event["text"])

    async def abandon(self) -> None:
        """Something here failed to serve this socket: close it so its client reconnects."""
        await self._refuse(CloseCode.TRY_AGAIN)

    # --- The end --------------------------------------------------------------------------

    def _remove_later(self, what: str, job: Any) -> None:
        """Remove something this socket left in Redis, through the process's Cleanup."""
        self._removals.append(get_runtime().cleanup.submit(what, job))

    def _forget_presence(self, entry: presence.Connection) -> None:
        removal = get_runtime().presence.forget(entry)
        if removal is not None:
            self._remove_later(f"the presence of {entry.channel}", removal)

    async def _end(self, code: int) -> None:
        """However the socket ended: forget it everywhere. Runs once, never raises."""
        self.closing = True
        metrics.socket_closed(self.kind, code)
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
        metrics.frame_refused(self.kind, code)
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
CLOSED_ERRORS: tuple[type[BaseException], ...] = (OSError,)


with contextlib.suppress(ImportError):
    from autobahn.exception import Disconnected

    CLOSED_ERRORS = (Disconnected, OSError)


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel `task` until it has ended (a library may swallow a cancel), re-cancelling
    every LAYER_RETRY_SECONDS."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=LAYER_RETRY_SECONDS)
    if not task.cancelled() and task.exception() is not None:
        logger.error("a socket's layer events ended with an error", exc_info=task.exception())


def service_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says a service (database, Redis, a full pool) is unreachable, not a bug."""
    return isinstance(exc, (db.OperationalError, db.InterfaceError, redis.RedisError))


def subprotocol_to_close(scope: Any) -> str | None:
    """A subprotocol to accept with just to close: browsers fail a handshake without one."""
    offered = list(scope.get("subprotocols") or [])
    if not offered:
        return None
    return protocol.SUBPROTOCOL_JSON if protocol.SUBPROTOCOL_JSON in offered else offered[0]


# --- The middleware in front of every socket ---------------------------------------


async def _accept_and_close(scope: Any, send: Any, code: int) -> None:
    """Accept, then close with `code` (a close before accept reaches the client as a 403)."""
    metrics.socket_closed("handshake", code)
    await send({"type": "websocket.accept", "subprotocol": subprotocol_to_close(scope)})
    await send({"type": "websocket.send", "text": protocol.closing(code)})
    await send({"type": "websocket.close", "code": code})


async def unknown_path(scope: Any, receive: Any, send: Any) -> None:
    """Any other /ws/ path: closed with 4404, which clients do not retry."""
    await _accept_and_close(scope, send, CloseCode.UNKNOWN_PATH)


class TryAgainWhenUnavailable:
    """A handshake that finds the database or Redis unreachable is closed with 4013.

    The session and the user are looked up before any consumer runs; if that
    raises, the client would see a bare failed handshake (HTTP 500). Consumers
    handle the same errors themselves once they run, so what reaches this
    wrapper happened before anything was sent.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        try:
            return await self.inner(scope, receive, send)
        except Exception as exc:
            if not service_unavailable(exc):
                raise
            if isinstance(exc, (db.OperationalError, db.InterfaceError)):
                metrics.database_failed("socket")
            logger.warning(
                "handshake for %s closed with 4013: %s (%s)",
                scope.get("path"),
                type(exc).__name__,
                exc,
            )
            await _accept_and_close(scope, send, CloseCode.TRY_AGAIN)
            return None


class SocketSessionMiddleware(SessionMiddleware):  # type: ignore[misc]  # channels is untyped
    """The session of the handshake's cookie in `scope["session"]`, with `send` left alone.

    Channels' SessionMiddleware wraps `send` so that it can save a modified
    session when an HTTP response starts. A socket never sends one, yet the
    wrapper still ran for every frame (two lazy-object lookups and a session
    check per state sent: about 5 % of a loaded process). Sockets only read
    the session, so here it is resolved once and frames go straight out.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def SocketAuthMiddlewareStack(inner: Any) -> Any:  # named like Channels' stacks
    """Channels' AuthMiddlewareStack for sockets: cookie, read-only session, user.

    Outside it, handshakes during a database outage are closed with 4013.
    """
    return TryAgainWhenUnavailable(CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(inner))))
