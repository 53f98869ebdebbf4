"""Tests of games.runtime; and helpers for match-socket tests: connect through the real
ASGI stack and read frames (the fakes for a runner on its own are in `fakes`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from gameproject.asgi import application
from games.models import Match, Player

ORIGIN = b"http://127.0.0.1:8000"
TIMEOUT = 5.0


def _session_cookie(player: Player) -> str:
    client = Client()
    client.force_login(player.user)
    return client.cookies["sessionid"].value


# Every communicator a test opened, so teardown can end the consumers still running
# (a consumer left running when the test's event loop closes would stall it).
opened: list[WebsocketCommunicator] = []


async def disconnect_all() -> None:
    while opened:
        communicator = opened.pop()
        if not communicator.future.done():
            await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
            try:
                await communicator.wait(TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                communicator.future.cancel()


class Socket:
    """One client socket: a WebsocketCommunicator plus frame helpers with timeouts."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.seen: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        await self.ws.send_to(text_data=json.dumps(message))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_to(text_data=text)

    async def frame(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        output = await self.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            raise ConnectionClosed(output.get("code"), output.get("reason", ""))
        frame: dict[str, Any] = json.loads(output["text"])
        self.seen.append(frame)
        return frame

    async def until(self, kind: str, timeout: float = TIMEOUT, **match: Any) -> dict[str, Any]:
        """The next frame of type `kind` whose top-level fields equal `match`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {kind} frame matching {match} within {timeout} s")
            frame = await self.frame(remaining)
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def where(self, kind: str, test: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame of type `kind` for which test(frame) is true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.until(kind, max(0.01, deadline - loop.time()))
            if test(frame):
                return frame

    async def state_where(self, test: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        return await self.where("state", lambda frame: test(frame["state"]), timeout)

    async def connected_players(self, expected: list[bool]) -> dict[str, Any]:
        """The next players frame whose connection flags, by seat, equal `expected`."""
        return await self.where(
            "players", lambda f: [p["connected"] for p in f["players"]] == expected
        )

    async def closed(self, timeout: float = TIMEOUT) -> int:
        """Wait for the server to close the socket; return the close code.

        Then completes the closing handshake as a server would, so the consumer ends.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                await self.frame(max(0.01, deadline - loop.time()))
            except ConnectionClosed as closed:
                await self.ws.send_input({"type": "websocket.disconnect", "code": closed.code})
                await self.ws.wait(max(0.01, deadline - loop.time()))
                return closed.code or 0

    async def close(self) -> None:
        await self.ws.disconnect()


class ConnectionClosed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}")
        self.code, self.reason = code, reason


async def connect(
    match: Match | str,
    player: Player | None = None,
    *,
    origin: bytes = ORIGIN,
    query: str = "",
) -> Socket:
    match_id = match.pk if isinstance(match, Match) else match
    headers = [(b"origin", origin)]
    if player is not None:
        cookie = await sync_to_async(_session_cookie)(player)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = f"/ws/match/{match_id}/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    opened.append(communicator)
    connected, _ = await communicator.connect(TIMEOUT)
    if not connected:
        raise ConnectionRefusedError("handshake refused")
    return Socket(communicator)


async def join(match: Match, player: Player) -> tuple[Socket, dict[str, Any]]:
    """Connect as a player and read the welcome."""
    sock = await connect(match, player)
    return sock, await sock.until("welcome")
