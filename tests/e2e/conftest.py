"""Fixtures of the end-to-end tests: real daphne processes on a real Redis."""

import pytest

from tests.e2e.servers import daphne, prepare, production_env

PRESENCE_HEARTBEAT, PRESENCE_TTL = 1, 3


def redis_env(tmp_path, redis_url, redis_prefix):
    return production_env(
        tmp_path,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        CHANNEL_LAYER_PREFIX=redis_prefix,
        # Plain HTTP on loopback: cookies must not be HTTPS-only here.
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        # Short presence entries, so a dead process's players vanish quickly in tests.
        PRESENCE_HEARTBEAT_SECONDS=str(PRESENCE_HEARTBEAT),
        PRESENCE_TTL_SECONDS=str(PRESENCE_TTL),
    )


@pytest.fixture
def site(tmp_path, redis_url, redis_prefix):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with daphne(env) as port:
        yield f"127.0.0.1:{port}", f"127.0.0.1:{port}", tmp_path / "db.sqlite3"


@pytest.fixture
def two_sites(tmp_path, redis_url, redis_prefix):
    """Two daphne processes sharing one database and one Redis, as behind a load balancer."""
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with daphne(env) as first, daphne(env) as second:
        yield f"127.0.0.1:{first}", f"127.0.0.1:{second}", tmp_path / "db.sqlite3"
