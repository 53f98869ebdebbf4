"""WebSocket URL patterns."""

from django.urls import URLPattern, URLResolver, path

from games.consumers import LobbyConsumer, MatchConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/match/<uuid:match_id>/", MatchConsumer.as_asgi()),
    path("ws/lobby/", LobbyConsumer.as_asgi()),
]
