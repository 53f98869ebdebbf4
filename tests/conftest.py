"""Factories, personas and service fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from games import services
from games.models import Match, Player

_counter = itertools.count(1)

PlayerFactory = Callable[..., Player]
MatchFactory = Callable[..., Match]


@pytest.fixture
def player_factory(db: None) -> PlayerFactory:
    def make(
        name: str | None = None, *, password: str = "correct-horse-42", **fields: Any
    ) -> Player:
        n = next(_counter)
        name = name or f"player{n}"
        user = User.objects.create_user(username=f"{name.lower()}-{n}", password=password)
        player = services.create_player(user, name)
        if fields:
            Player.objects.filter(pk=player.pk).update(**fields)
            player.refresh_from_db()
        return player

    return make


@pytest.fixture
def match_factory(player_factory: PlayerFactory) -> MatchFactory:
    """A match of `game` with `seats` players seated (the first is the creator)."""

    def make(
        game: str = "connect_four",
        *,
        seats: int = 2,
        players: list[Player] | None = None,
        status: str = "waiting",
        **options: Any,
    ) -> Match:
        players = players or [player_factory() for _ in range(seats)]
        match = services.create_match(players[0], game, **options)
        for player in players[1:]:
            services.join_match(player, match.pk)
        if status in ("active", "finished"):
            services.start_match(match.pk)
        if status == "finished":
            results = [
                services.SeatRecord(
                    seat, "win" if seat == 0 else "loss", 1 - min(seat, 1), seat + 1
                )
                for seat in range(len(players))
            ]
            services.finish_match(match.pk, results, "Seat 0 wins.")
        match.refresh_from_db()
        return match

    return make


# --- Personas for permission tests ------------------------------------------------


@pytest.fixture
def alice(player_factory: PlayerFactory) -> Player:
    return player_factory("Alice")


@pytest.fixture
def bob(player_factory: PlayerFactory) -> Player:
    return player_factory("Bob")


@pytest.fixture
def stranger(player_factory: PlayerFactory) -> Player:
    return player_factory("Stranger")


def client_for(player: Player) -> Client:
    client = Client()
    client.force_login(player.user)
    return client


@pytest.fixture
def alice_client(alice: Player) -> Client:
    return client_for(alice)


@pytest.fixture
def admin_client_(db: None) -> Client:
    user = User.objects.create_superuser("operator", "op@example.com", "operator-pass-42")
    client = Client()
    client.force_login(user)
    return client


# --- Real services -------------------------------------------------------------------


def _services_required() -> bool:
    return bool(os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL for tests; the suite fails without Redis in CI and skips locally."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if _services_required():
            raise
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards, nothing else."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(url=redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_layer(settings, redis_url: str, redis_prefix: str) -> Iterator[str]:
    """The channels-redis layer and the server's own Redis keys, under this test's prefix."""
    from games.cluster import redis as cluster_redis
    from games.runtime.process import reset_for_tests

    settings.REDIS_URL = redis_url
    settings.REDIS_PREFIX = redis_prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": 10, "max_connections": 500}],
                "prefix": redis_prefix,
                "capacity": 200,
            },
        },
        "fanout": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": 10, "max_connections": 500}]
            },
        },
    }
    settings.MATCH_RECONNECT_GRACE_SECONDS = 2.0
    cluster_redis._sync_client = None
    reset_for_tests()
    yield redis_prefix
    reset_for_tests()
    cluster_redis._sync_client = None


@pytest.fixture
async def runners(redis_layer: str) -> Any:
    """The process's match supervisor, shut down inside the test's event loop afterwards."""
    from games.runtime.process import get_runtime
    from tests.runtime import disconnect_all

    supervisor = get_runtime()
    yield supervisor
    await disconnect_all()
    await supervisor.shutdown()


@pytest.fixture
async def memory_runners(settings: Any) -> Any:
    """Single-process mode: the in-memory channel layer and no Redis at all."""
    from games.runtime.process import get_runtime, reset_for_tests

    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    reset_for_tests()
    from tests.runtime import disconnect_all

    supervisor = get_runtime()
    yield supervisor
    await disconnect_all()
    await supervisor.shutdown()
    reset_for_tests()
