"""A spectator's `ready` is answered, over the real match socket (ASGI stack, Redis)."""

import pytest
from asgiref.sync import sync_to_async

from tests.runtime import join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]


async def test_a_spectators_ready_gets_an_error_and_starts_nothing(
    match_factory, alice, bob, stranger
):
    match = await sync_to_async(match_factory)("connect_four", players=[alice, bob])
    watcher, welcome = await join(match, stranger)
    assert welcome["you"]["role"] == "spectator"
    await watcher.send(type="ready")
    error = await watcher.until("error")
    assert error["code"] == "invalid"
    assert error["message"] == "Only seated players can be ready: you are watching this match."
    a, _ = await join(match, alice)
    await a.send(type="ready")
    players = await a.until("players")
    while not players["players"][0]["ready"]:
        players = await a.until("players")
    assert [p["ready"] for p in players["players"]] == [True, False]
    for sock in (watcher, a):
        await sock.close()
