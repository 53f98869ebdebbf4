"""Fixtures of the end-to-end tests: real server processes on a real Redis.

`site` and `two_sites` run daphne; a module whose tests are the core that must
hold under every supported server overrides `server_kind` with
`params=SERVERS` (see test_match_over_servers.py), and its tests run under each.
"""

import pytest

from tests.e2e.servers import prepare, production_env, serve

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
def server_kind():
    return "daphne"


@pytest.fixture
def site(tmp_path, redis_url, redis_prefix, server_kind):
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with serve(env, server=server_kind) as port:
        yield f"127.0.0.1:{port}", f"127.0.0.1:{port}", tmp_path / "db.sqlite3"


@pytest.fixture
def two_sites(tmp_path, redis_url, redis_prefix, server_kind):
    """Two server processes sharing one database and one Redis, as behind a load balancer."""
    env = redis_env(tmp_path, redis_url, redis_prefix)
    prepare(env)
    with serve(env, server=server_kind) as first, serve(env, server=server_kind) as second:
        yield f"127.0.0.1:{first}", f"127.0.0.1:{second}", tmp_path / "db.sqlite3"
