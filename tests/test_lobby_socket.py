"""The lobby socket: a snapshot on connect, coalesced pushes when matches change."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from gameproject.asgi import application
from games import services
from tests.runtime import ORIGIN, _session_cookie, opened

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]


async def lobby_socket(player=None):
    headers = [(b"origin", ORIGIN)]
    if player is not None:
        cookie = await sync_to_async(_session_cookie)(player)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/lobby/", headers=headers)
    opened.append(communicator)
    connected, _ = await communicator.connect(5)
    assert connected
    return communicator


async def frames_for(communicator, seconds):
    """Every frame that arrives within `seconds` (the window under test)."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if await communicator.receive_nothing(timeout=min(left, 0.1), interval=0.02):
            continue
        frames.append(json.loads(await communicator.receive_from(1)))
    return frames


def open_ids(frame, game):
    return [m["id"] for g in frame["games"] if g["key"] == game for m in g["open"]]


async def test_the_lobby_sends_a_snapshot_then_pushes_changes(match_factory, alice):
    lobby = await lobby_socket()
    first = json.loads(await lobby.receive_from(5))
    assert first["type"] == "lobby" and open_ids(first, "arena") == []
    match = await sync_to_async(services.create_match)(alice, "arena")
    pushed = json.loads(await lobby.receive_from(5))
    assert open_ids(pushed, "arena") == [str(match.pk)]


async def test_a_burst_of_changes_is_coalesced_into_a_few_pushes(player_factory):
    lobby = await lobby_socket()
    await lobby.receive_from(5)
    players = [await sync_to_async(player_factory)() for _ in range(10)]
    for player in players:
        await sync_to_async(services.create_match)(player, "arena")
    frames = await frames_for(lobby, 1.5)
    assert 1 <= len(frames) <= 3, f"{len(frames)} pushes for one burst"
    assert len(open_ids(frames[-1], "arena")) == 10


async def test_signed_in_players_on_the_lobby_count_as_online(alice, bob):
    watcher = await lobby_socket()
    assert json.loads(await watcher.receive_from(5))["online"] == 0
    await lobby_socket(alice)
    await lobby_socket(bob)
    await sync_to_async(services.create_match)(alice, "arena")  # a change, to trigger a push
    frames = await frames_for(watcher, 1.5)
    assert frames and frames[-1]["online"] == 2
