"""PostgreSQL unreachable (cut through a proxy of the test's own) when a match ends: the
result is stored once when it is back, every player receives it, no honest client is
closed for the inputs it kept sending, and handshakes meanwhile are told to try again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import redis_env
from tests.e2e.lifetime import log_of
from tests.e2e.netproxy import CuttableProxy
from tests.e2e.servers import daphne, prepare
from tests.e2e.test_redis_faults import arena_match

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "postgres"}
OUTAGE_SECONDS = 15
TIME_LIMIT = 6  # seconds of arena: the match ends a few seconds into the outage


def _admin() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=3, **PG)


@pytest.fixture
def database():
    """A PostgreSQL database of the test's own, dropped afterwards."""
    try:
        admin = _admin()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    name = f"arcade_outage_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def site_behind_proxy(tmp_path, redis_url, redis_prefix, database):
    proxy = CuttableProxy(PG["port"])
    url = f"postgres://{PG['user']}:{PG['password']}@127.0.0.1:{proxy.port}/{database}"
    env = redis_env(tmp_path, redis_url, redis_prefix) | {"DATABASE_URL": url}
    prepare(env)
    try:
        with daphne(env) as port:
            yield f"127.0.0.1:{port}", proxy, database, tmp_path, port
    finally:
        proxy.close()


def stored(database: str, match_id: str) -> tuple[str, int]:
    """The match's status and its number of replays, read past the proxy."""
    with psycopg.connect(dbname=database, connect_timeout=3, **PG) as conn:
        status = conn.execute("SELECT status FROM games_match WHERE id = %s", [match_id])
        replays = conn.execute("SELECT count(*) FROM games_replay WHERE match_id = %s", [match_id])
        return status.fetchone()[0], replays.fetchone()[0]


async def handshake_close_code(host: str, client) -> tuple[int | None, float]:
    """Open a lobby socket with the client's session; the close code it gets, and how fast."""
    started = time.monotonic()
    async with connect(
        f"ws://{host}/ws/lobby/",
        origin=f"http://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
        open_timeout=15,
    ) as ws:
        try:
            async with asyncio.timeout(15):
                while True:
                    frame = json.loads(await ws.recv())
                    assert frame["type"] != "lobby", "a lobby frame without a database"
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.slow
async def test_a_match_that_ends_while_the_database_is_away_is_stored_once_and_told(
    site_behind_proxy,
):
    host, proxy, database, tmp, port = site_behind_proxy
    match_id, alice, bob = await arena_match(host, host, time_limit_seconds=TIME_LIMIT)
    try:
        await asyncio.sleep(TIME_LIMIT - 3)  # the match runs on; the outage begins before its end
        proxy.cut()
        cut_at = time.monotonic()
        # A handshake during the outage is told to try again, within seconds.
        code, took = await handshake_close_code(host, alice.site)
        assert code == 4013 and took < 10, (code, took)
        # The players keep steering through the outage; wait it out, then bring it back.
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        proxy.restore()
        for player in (alice, bob):
            result = await player.frame("result", timeout=30)
            assert result["status"] == "finished"
        for player in (alice, bob):
            assert player.closed is None, f"an honest client was closed with {player.closed}"
            assert not [f for f in player.frames if f["type"] == "closing"], player.frames[-3:]
        assert stored(database, match_id) == ("finished", 1)
    finally:
        await alice.close()
        await bob.close()
    log = log_of(tmp, port)
    assert "Traceback" not in log, log[-4000:]
