"""A whole Connect Four match between two real WebSocket clients, against a real daphne
process on the Redis channel layer: one client on its session cookie, one on a ticket."""

import asyncio
import json
import sqlite3

from websockets.asyncio.client import connect

from tests.e2e.http_client import SiteClient

TIMEOUT = 10


async def next_frame(ws, kind, test=lambda f: True):
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and test(frame):
                return frame


async def test_two_websocket_clients_play_a_match_to_the_end(site):
    await play_a_match(*site)


async def test_players_on_two_daphne_processes_play_one_match(two_sites):
    await play_a_match(*two_sites)


async def play_a_match(host, other_host, database):
    """Alice plays through `host`, Bob through `other_host`."""
    alice, bob = SiteClient(f"http://{host}"), SiteClient(f"http://{other_host}")
    alice.play_as_guest()
    bob.play_as_guest()
    match = alice.post_json("/api/matches/", {"game": "connect_four"})
    bob.post_json(f"/api/matches/{match['id']}/join/")
    ticket = bob.post_json(f"/api/matches/{match['id']}/ticket/")["url"]

    url = f"ws://{host}/ws/match/{match['id']}/"
    cookie = f"sessionid={alice.cookie('sessionid')}"
    async with (
        connect(url, origin=f"http://{host}", additional_headers={"Cookie": cookie}) as a,
        connect(f"ws://{other_host}{ticket}", origin=f"http://{other_host}") as b,
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
