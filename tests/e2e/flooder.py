"""A hostile lobby client, run as a process of its own so that its flood does not share
the test's event loop: `python -m tests.e2e.flooder HOST SOCKETS SECONDS`.

Each of SOCKETS anonymous lobby sockets sends pings as fast as it can, reading what
comes back; when the server closes it, it connects again at once, until SECONDS
have passed. Prints one JSON line: the close codes seen, frames sent and received.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def flood(host: str, until: float, codes: Counter[str], counts: Counter[str]) -> None:
    url, origin = f"ws://{host}/ws/lobby/", f"http://{host}"
    ping = json.dumps({"type": "ping", "id": 1})
    while time.monotonic() < until:
        async with connect(url, origin=origin, max_queue=None) as ws:
            reader = asyncio.create_task(_drain(ws, counts))
            try:
                while time.monotonic() < until:
                    for _ in range(100):
                        await ws.send(ping)
                    counts["sent"] += 100
                    await asyncio.sleep(0)  # let the reader see what came back
            except ConnectionClosed:
                codes[str(ws.close_code)] += 1  # the server closed it
            await ws.close()
            await reader


async def _drain(ws: object, counts: Counter[str]) -> None:
    try:
        async for _ in ws:  # type: ignore[attr-defined]
            counts["received"] += 1
    except ConnectionClosed:
        pass


async def main(host: str, sockets: int, seconds: float) -> None:
    until = time.monotonic() + seconds
    codes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    await asyncio.gather(*(flood(host, until, codes, counts) for _ in range(sockets)))
    print(json.dumps({"closes": codes, **counts}))


if __name__ == "__main__":
    # The flood measures what it costs the server, not what the client's own framing
    # costs a machine it shares with the server: the flooder yields the CPU first.
    os.nice(19)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
