"""WebSocket URL patterns (the middleware in front of them is in `games.sockets.base`)."""

from django.urls import URLPattern, URLResolver, path, re_path

from games.sockets.base import unknown_path
from games.sockets.lobby import LobbyConsumer
from games.sockets.match import MatchConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/match/<uuid:match_id>/", MatchConsumer.as_asgi()),
    path("ws/lobby/", LobbyConsumer.as_asgi()),
    re_path(r"", unknown_path),  # type: ignore[arg-type]  # last: any other path
]
