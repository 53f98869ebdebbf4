"""The floor: what the ASGI server alone costs on the load benchmark's workload.

`bench/load.py --app floor` serves this instead of the game server. It is a
raw ASGI application: no Django, no Channels, no Redis, no game. It speaks
just enough of the match protocol for the load generator: a socket of
`/ws/match/<id>/` is accepted with the subprotocol it offered and welcomed
with a seat (in connection order); a match ticks at 20 Hz from its first
`ready`, sending every socket the same state, encoded once per tick, of the
size of a real 8-player arena state in msgpack, carrying each seat's newest
input sequence as its ship's `ack`. Inputs are decoded for that sequence and
nothing else: nothing is validated, stored, simulated or rate-limited.

Whatever the game server does on top costs more, so the capacity this app
reaches under a server bounds from above what any application can reach
under that server on the same machine.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import autobahn.util
import msgspec

# As gameproject/asgi.py does under daphne: no colours for autobahn's per-frame debug
# arguments, so that the floor pays no cost the game server does not.
autobahn.util._HAS_CLICK = False

TICK_SECONDS = 0.05
# A real state of an 8-player arena is about 1,190 bytes of msgpack (bench/state_size.py);
# the ships' acks and this padding make the floor's the same size on the wire.
STATE_PADDING = bytes(1_100)
MATCH_PATH = re.compile(r"^/ws/match/([0-9a-f-]+)/$")

_encode = msgspec.msgpack.Encoder().encode
_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.decode


class _Match:
    def __init__(self) -> None:
        self.sends: dict[int, Any] = {}  # seat -> the socket's ASGI send
        self.acks: list[int] = []
        self.ticker: asyncio.Task[None] | None = None

    def join(self, send: Any) -> int:
        seat = len(self.acks)
        self.acks.append(0)
        self.sends[seat] = send
        return seat

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        tick, next_at = 0, loop.time()
        while self.sends:
            tick += 1
            state = {
                "type": "state",
                "tick": tick,
                "state": {"ships": [{"ack": ack} for ack in self.acks], "pad": STATE_PADDING},
            }
            message = {"type": "websocket.send", "bytes": _encode(state)}
            for send in list(self.sends.values()):
                await send(message)
            next_at += TICK_SECONDS
            await asyncio.sleep(max(0.0, next_at - loop.time()))


_matches: dict[str, _Match] = {}


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["type"] != "websocket":
        return
    found = MATCH_PATH.match(scope["path"])
    await receive()  # websocket.connect
    if found is None:
        await send({"type": "websocket.close", "code": 4404})
        return
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None})
    match = _matches.setdefault(found.group(1), _Match())
    seat = match.join(send)
    welcome = {"type": "welcome", "you": {"seat": seat}}
    await send({"type": "websocket.send", "text": _encode_json(welcome).decode()})
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            frame = _decode_json(event.get("text") or event.get("bytes") or b"{}")
            if frame.get("type") == "input":
                match.acks[seat] = frame["data"]["seq"]
            elif frame.get("type") == "ready" and match.ticker is None:
                match.ticker = asyncio.create_task(match.run())
    finally:
        del match.sends[seat]
        if not match.sends:
            _matches.pop(found.group(1), None)
