"""WebSocket URL patterns. The match and lobby consumers are mounted here."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
