"""Helpers to see what a daphne process still holds for its sockets: Redis keys, its
registries (through its metrics port) and its file descriptors."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.e2e.servers import RUNNING


def registrations(metrics_port: int) -> dict[str, float]:
    """The process's registries by name (arcade_socket_registrations) and its runner count."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('arcade_socket_registrations{registry="'):
            name = line.split('"')[1]
            counts[name] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("arcade_match_runners "):
            counts["runners"] = float(line.rsplit(" ", 1)[1])
    return counts


def redis_leftovers(redis_url: str, prefix: str) -> dict[str, int]:
    """Presence entries and channel-layer group members stored under the test's prefix."""
    client = redis.Redis.from_url(redis_url)
    groups = sum(client.zcard(key) for key in client.scan_iter(match=f"{prefix}:group:*"))
    return {"presence": int(client.zcard(f"{prefix}:presence")), "group_members": int(groups)}


def open_fds(port: int) -> int:
    return len(os.listdir(f"/proc/{RUNNING[port].pid}/fd"))


def client_connections(port: int) -> int:
    """TCP connections the daphne process on `port` holds open to its clients."""
    return _connections(port, lambda local, remote: local == port)


def connections_to(port: int, remote_port: int) -> int:
    """TCP connections the daphne process on `port` holds open to a server on `remote_port`."""
    return _connections(port, lambda local, remote: remote == remote_port)


def _connections(port: int, wanted: Callable[[int, int], bool]) -> int:
    pid = RUNNING[port].pid
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                listening = fields[3] == "0A"
                if not listening and fields[9] in inodes and wanted(local, remote):
                    held += 1
    return held


def log_of(tmp: Path, port: int) -> str:
    return (tmp / f"daphne-{port}.log").read_text(errors="replace")


async def until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    describe: Callable[[], Any] | None = None,
) -> Any:
    """Poll `condition` (run in a thread: it may block) until it is truthy; fail after `timeout`.

    `describe` tells what was seen instead, for the failure's message.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(condition)
        if last:
            return last
        await asyncio.sleep(0.2)  # polling another process: there is no event to wait on
    if describe is not None:
        last = await asyncio.to_thread(describe)
    raise AssertionError(f"{what} not within {timeout} s (last seen: {last!r})")


def reset(ws: Any) -> None:
    """Drop a client connection with a TCP reset (SO_LINGER 0), no closing handshake."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()
