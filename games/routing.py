"""WebSocket URL patterns, and the middleware that tells their consumers who is connecting."""

import logging
from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.urls import URLPattern, URLResolver, path, re_path

from games import protocol
from games.consumers import (
    LobbyConsumer,
    MatchConsumer,
    service_unavailable,
    subprotocol_to_close,
)
from games.protocol import CloseCode

logger = logging.getLogger(__name__)


async def _accept_and_close(scope: Any, send: Any, code: int) -> None:
    """Accept, then close with `code` (a close before accept reaches the client as a 403)."""
    await send({"type": "websocket.accept", "subprotocol": subprotocol_to_close(scope)})
    closing = {"type": "closing", "code": code, "reason": protocol.CLOSE_REASONS[code]}
    await send({"type": "websocket.send", "text": protocol.encode(closing)})
    await send({"type": "websocket.close", "code": code})


async def unknown_path(scope: Any, receive: Any, send: Any) -> None:
    """Any other /ws/ path: closed with 4404, which clients do not retry."""
    await _accept_and_close(scope, send, CloseCode.UNKNOWN_PATH)


websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/match/<uuid:match_id>/", MatchConsumer.as_asgi()),
    path("ws/lobby/", LobbyConsumer.as_asgi()),
    re_path(r"", unknown_path),  # type: ignore[arg-type]  # last: any other path
]


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
