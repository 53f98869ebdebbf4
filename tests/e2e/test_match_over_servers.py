"""Whole matches between real WebSocket clients, against real server processes on the
Redis channel layer: one client on its session cookie, one on a ticket; over ws and
over wss. The core of the end-to-end suite: every test here runs under each
supported server (daphne and uvicorn)."""

import asyncio
import json
import sqlite3
import ssl

import pytest
import trustme
from websockets.asyncio.client import connect

from tests.e2e.conftest import redis_env
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import SERVERS, prepare, serve

TIMEOUT = 10


@pytest.fixture(params=SERVERS)
def server_kind(request):
    return request.param


@pytest.fixture
def tls_site(tmp_path, redis_url, redis_prefix, server_kind):
    """One server process serving HTTPS and WSS itself, and a TLS context that trusts it."""
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1", "localhost")
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    cert.private_key_pem.write_to_path(key_file)
    cert.cert_chain_pems[0].write_to_path(cert_file)
    env = redis_env(tmp_path, redis_url, redis_prefix)
    env.update(SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="true")
    prepare(env)
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with serve(env, server=server_kind, tls=(key_file, cert_file)) as port:
        yield f"127.0.0.1:{port}", tmp_path / "db.sqlite3", context


async def next_frame(ws, kind, test=lambda f: True):
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and test(frame):
                return frame


async def test_two_websocket_clients_play_a_match_to_the_end(site):
    await play_a_match(*site)


async def test_players_on_two_server_processes_play_one_match(two_sites):
    await play_a_match(*two_sites)


async def test_two_clients_play_a_match_over_wss(tls_site):
    host, database, context = tls_site
    await play_a_match(host, host, database, context)


async def play_a_match(host, other_host, database, tls=None):
    """Alice plays through `host`, Bob through `other_host`; over TLS with a `tls` context."""
    http, ws = ("https", "wss") if tls else ("http", "ws")
    alice = SiteClient(f"{http}://{host}", tls)
    bob = SiteClient(f"{http}://{other_host}", tls)
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json("/api/matches/", {"game": "connect_four"})
    bob.post_json(f"/api/matches/{match['id']}/join/")
    ticket = bob.post_json(f"/api/matches/{match['id']}/ticket/")["url"]

    url = f"{ws}://{host}/ws/match/{match['id']}/"
    cookie = {"Cookie": f"sessionid={alice.cookie('sessionid')}"}
    async with (
        connect(url, origin=f"{http}://{host}", additional_headers=cookie, ssl=tls) as a,
        connect(f"{ws}://{other_host}{ticket}", origin=f"{http}://{other_host}", ssl=tls) as b,
    ):
        seats = {}
        for ws in (a, b):
            welcome = await next_frame(ws, "welcome")
            seats[welcome["you"]["seat"]] = ws
            await ws.send(json.dumps({"type": "ready"}))
        assert set(seats) == {0, 1}

        # Whoever opens plays column 0 four times and wins; the other plays column 1.
        for move in range(7):
            frame = await next_frame(a, "state", lambda f, n=move: f["state"]["moves"] == n)
            mover = frame["state"]["to_move"]
            column = 0 if move % 2 == 0 else 1
            await seats[mover].send(json.dumps({"type": "input", "data": {"column": column}}))

        results = [await next_frame(ws, "result") for ws in (a, b)]
        assert results[0] == results[1]
        assert {s["outcome"] for s in results[0]["seats"]} == {"win", "loss"}

    stored = alice.get_json(f"/api/matches/{match['id']}/")
    assert stored["status"] == "finished"
    assert "four in a row" in stored["result"]["summary"]
    with sqlite3.connect(database) as db:
        (replays,) = db.execute("SELECT count(*) FROM games_replay").fetchone()
    assert replays == 1


async def test_two_websocket_clients_play_an_arena_match_to_its_time_limit(site):
    host, _, database = site
    alice, bob = SiteClient(f"http://{host}"), SiteClient(f"http://{host}")
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json(
        "/api/matches/",
        {"game": "arena", "max_players": 2, "settings": {"time_limit_seconds": 5}},
    )
    bob.post_json(f"/api/matches/{match['id']}/join/")
    url = f"ws://{host}/ws/match/{match['id']}/"
    seats = []
    async with (
        connect(url, origin=f"http://{host}", additional_headers=_cookie(alice)) as a,
        connect(url, origin=f"http://{host}", additional_headers=_cookie(bob)) as b,
    ):
        for ws in (a, b):
            seats.append((await next_frame(ws, "welcome"))["you"]["seat"])
            await ws.send(json.dumps({"type": "ready"}))
        assert seats == [0, 1]  # Alice created the match, Bob joined it
        await next_frame(a, "state")
        # Seat 0 flies right and keeps shooting; the server acknowledges every input.
        for seq in range(1, 21):
            data = {"seq": seq, "mx": 1, "my": 0, "aim": 0, "fire": True}
            await a.send(json.dumps({"type": "input", "data": data}))
            await next_frame(a, "state", lambda f, s=seq: f["state"]["ships"][0]["ack"] >= s)
        results = [await next_frame(ws, "result") for ws in (a, b)]
    assert results[0] == results[1]
    assert results[0]["status"] == "finished"
    with sqlite3.connect(database) as db:
        (status,) = db.execute(
            "SELECT status FROM games_match WHERE id = ?", (match["id"].replace("-", ""),)
        ).fetchone()
    assert status == "finished"


def _cookie(client):
    return {"Cookie": f"sessionid={client.cookie('sessionid')}"}
