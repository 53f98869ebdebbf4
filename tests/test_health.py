"""/healthz and /readyz: what a load balancer, nginx and systemd see of one process."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.test import AsyncClient, Client

from games.protocol import CloseCode
from tests.e2e.netproxy import CuttableProxy
from tests.e2e.servers import daphne, free_port, prepare, production_env


async def _get(path: str, **headers: Any) -> tuple[int, dict[str, Any]]:
    response = await AsyncClient().get(path, **headers)
    return response.status_code, json.loads(response.content)


async def test_healthz_answers_while_the_process_runs() -> None:
    assert await _get("/healthz") == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_is_ready_when_the_database_answers(settings: Any) -> None:
    settings.REDIS_URL = ""
    assert await _get("/readyz") == (200, {"status": "ready"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_checks_redis_when_it_is_configured(settings: Any, redis_url: str) -> None:
    settings.REDIS_URL = redis_url
    assert await _get("/readyz") == (200, {"status": "ready"})
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    status, body = await _get("/readyz")
    assert status == 503
    assert body == {"status": "unavailable", "reasons": ["redis: unreachable"]}


@pytest.mark.django_db(transaction=True)
async def test_readyz_refuses_new_players_while_the_process_drains(memory_runners: Any) -> None:
    assert (await _get("/readyz"))[0] == 200
    await memory_runners.drain(CloseCode.RESTARTING)
    assert await _get("/readyz") == (503, {"status": "unavailable", "reasons": ["draining"]})


@pytest.mark.django_db(transaction=True)
def test_a_balancer_polls_by_address_over_plain_http(settings: Any) -> None:
    """Production host and HTTPS checks refuse the poll's Host (an IP) and scheme elsewhere."""
    settings.REDIS_URL = ""
    settings.ALLOWED_HOSTS = ["game.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    by_address = {"HTTP_HOST": "10.0.0.7:8001"}
    assert Client().get("/", **by_address).status_code == 400
    assert Client().get("/", HTTP_HOST="game.example.com").status_code == 301
    for path in ("/healthz", "/readyz"):
        assert Client().get(path, **by_address).status_code == 200


# --- Over daphne ---------------------------------------------------------------------------


def _poll(base: str, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _until(base: str, status: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer, body = _poll(base, "/readyz")
        if answer == status or time.monotonic() > deadline:
            assert answer == status, body
            return body
        time.sleep(0.1)  # polling a state that has no event to wait on


@pytest.mark.slow
def test_readyz_over_daphne_follows_redis_and_the_database(tmp_path, redis_url, redis_prefix):
    """Production settings (HTTPS redirect, one host name); Redis behind a proxy that is cut."""
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = CuttableProxy(redis_port)
    env = production_env(
        tmp_path,
        ALLOWED_HOSTS="game.example.com",
        SECURE_SSL_REDIRECT="true",
        REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
        REDIS_PREFIX=redis_prefix,
        CHANNEL_LAYER_PREFIX=redis_prefix,
    )
    prepare(env)
    try:
        with daphne(env) as port:
            base = f"http://127.0.0.1:{port}"
            assert _poll(base, "/healthz") == (200, {"status": "ok"})
            _until(base, 200)
            polls, started = 0, time.monotonic()
            while time.monotonic() - started < 2.0:
                assert _poll(base, "/readyz")[0] == 200
                polls += 1
            print(f"/readyz over daphne: {polls / 2.0:.0f} answers/s, one client in a loop")
            proxy.cut()
            assert _until(base, 503)["reasons"] == ["redis: unreachable"]
            assert _poll(base, "/healthz")[0] == 200  # alive, only not ready
            proxy.restore()
            _until(base, 200)
    finally:
        proxy.close()
    log = next(tmp_path.glob("daphne-*.log")).read_text()
    assert log.count("not ready: redis: unreachable") == 1, log
    assert "Service Unavailable" not in log


@pytest.mark.slow
def test_readyz_over_daphne_without_a_database(tmp_path):
    closed = free_port()
    env = production_env(tmp_path)
    prepare(env)
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{closed}/arcade"
    with daphne(env) as port:
        base = f"http://127.0.0.1:{port}"
        assert _poll(base, "/healthz")[0] == 200
        # Unreachable, or no connection from the pool within the check's timeout.
        assert _until(base, 503)["reasons"][0].startswith("database: ")
