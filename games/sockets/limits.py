"""Per-socket limits: token buckets, connection caps and the send backlog."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import ipaddress
import sys
import termios
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenBucket:
    """Allows `rate` events per second on average, and bursts of up to `burst`."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = self.clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# --- Connection caps -------------------------------------------------------------------


class OverCap(Exception):
    """One more socket would pass a cap; `reason` says which, in words for the player."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Cap:
    """At most `limit` open sockets share `key` (a player, an address); 0 means no cap."""

    key: str
    limit: int
    reason: str


class SocketCounts:
    """Open sockets of this process per key: admits a socket, or refuses it with OverCap.

    Counts are per process: what a socket costs (a file descriptor, memory, a
    share of one event loop) is spent in the process that holds it, and a
    count kept here dies with its process instead of leaking in Redis.
    """

    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def admit(self, caps: list[Cap]) -> Callable[[], None]:
        """Count one more socket under each cap; returns the release (idempotent)."""
        for cap in caps:
            if cap.limit > 0 and self.open.get(cap.key, 0) >= cap.limit:
                raise OverCap(cap.reason)
        for cap in caps:
            self.open[cap.key] = self.open.get(cap.key, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            for cap in caps:
                left = self.open[cap.key] - 1
                if left:
                    self.open[cap.key] = left
                else:
                    del self.open[cap.key]

        return release


# One count per event loop: a process serves its sockets on one loop, and each
# test's loop starts from zero without a reset.
_counts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SocketCounts] = (
    weakref.WeakKeyDictionary()
)


def socket_counts() -> SocketCounts:
    """The open-socket counts of this process (of the running event loop)."""
    loop = asyncio.get_running_loop()
    counts = _counts.get(loop)
    if counts is None:
        counts = _counts[loop] = SocketCounts()
    return counts


def address_key(client: Any) -> str | None:
    """The cap key of an ASGI scope's `client` ([host, port]), or None when unknown.

    IPv6 clients are counted by their /64: one home or host usually holds a
    whole /64 and can pick any address in it.
    """
    if not client:
        return None
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a unix socket path or a name: counted as it is
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- Send backlog ----------------------------------------------------------------------


def transport_backlog(send: Any) -> Callable[[], int] | None:
    """A function giving the bytes queued for this socket and not yet sent, if known.

    Under daphne an ASGI app's `send` is `partial(server.handle_reply, protocol)`,
    and the protocol's Twisted transport buffers every write the kernel does not
    take (abstract.FileDescriptor: `dataBuffer` from `offset`, plus
    `_tempDataBuffer`). The kernel's own send queue (TIOCOUTQ, Linux; autotuned
    up to megabytes) comes first, so both count. Under TLS the protocol writes
    to a TLS wrapper whose `transport` is the TCP one. Any other server: None.
    """
    transport = _tcp_transport(send)
    if transport is None:
        return None
    handle: Any = transport.getHandle() if hasattr(transport, "getHandle") else None
    fileno: int = handle.fileno() if hasattr(handle, "fileno") else -1

    def backlog() -> int:
        queued: int = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        if fileno >= 0 and not transport.disconnected:
            queued += _kernel_send_queue(fileno)
        return queued

    return backlog


def _tcp_transport(send: Any) -> Any:
    """The Twisted TCP transport under daphne's protocol for this socket, or None."""
    transport = getattr(_daphne_protocol(send), "transport", None)
    for _ in range(3):  # the TCP transport, or at most a wrapper or two in front of it
        if transport is None or hasattr(transport, "_tempDataLen"):
            break
        transport = getattr(transport, "transport", None)
    if transport is None or not isinstance(getattr(transport, "dataBuffer", None), bytes):
        return None
    return transport


def bound_reads(send: Any, size: int) -> None:
    """Read at most `size` bytes from this socket's connection per turn of the loop.

    Twisted reads 64 KiB per readable connection per turn, and the WebSocket
    layer parses every frame in what it read before the loop moves on: a client
    writing tiny frames as fast as it can (2,000 of them in 64 KiB, some 30 ms
    of parsing) held the loop that long per turn, and the states of every match
    on the process waited for it. Smaller reads let the loop go round between
    them, and let a socket closed for abuse stop being read sooner. daphne
    only; elsewhere a no-op.
    """
    transport = _tcp_transport(send)
    if transport is not None and hasattr(transport, "bufferSize"):
        transport.bufferSize = size


def _kernel_send_queue(fileno: int) -> int:
    try:
        raw = fcntl.ioctl(fileno, termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0  # not a socket that tells (not Linux): Twisted's buffer alone
    return int.from_bytes(raw, sys.byteorder)


def stop_reading(send: Any) -> None:
    """Read nothing more from this socket's connection (daphne only; elsewhere a no-op).

    For a socket closed for abuse: what its client sends meanwhile stays in the
    kernel's buffers instead of being parsed frame by frame and queued for a
    consumer that drops it. The close frame still goes out; daphne drops the
    connection when the client's answer does not come within a second.
    """
    pause = getattr(getattr(_daphne_protocol(send), "transport", None), "pauseProducing", None)
    if pause is not None:
        pause()


def _daphne_protocol(send: Any) -> Any:
    # daphne hands each application `partial(server.handle_reply, protocol)` as `send`.
    if isinstance(send, functools.partial) and send.args:
        return send.args[0]
    return None
