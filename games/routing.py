"""WebSocket URL patterns, and the middleware that tells their consumers who is connecting."""

from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.urls import URLPattern, URLResolver, path

from games.consumers import LobbyConsumer, MatchConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/match/<uuid:match_id>/", MatchConsumer.as_asgi()),
    path("ws/lobby/", LobbyConsumer.as_asgi()),
]


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
    """Channels' AuthMiddlewareStack for sockets: cookie, read-only session, user."""
    return CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(inner)))
