"""Per-socket limits: token buckets, connection caps and the send backlog."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
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
    """A function giving the bytes queued for this socket and not yet written, if known.

    Under daphne an ASGI app's `send` is `partial(server.handle_reply, protocol)`,
    and the protocol's Twisted transport buffers every write it cannot hand to
    the kernel (abstract.FileDescriptor: `dataBuffer` from `offset`, plus
    `_tempDataBuffer`). Under TLS the protocol writes to a TLS wrapper whose
    own `transport` is that TCP transport. Any other server: None.
    """
    if not isinstance(send, functools.partial) or not send.args:
        return None
    transport = getattr(send.args[0], "transport", None)
    for _ in range(3):  # the TCP transport, or at most a wrapper or two in front of it
        if transport is None or hasattr(transport, "_tempDataLen"):
            break
        transport = getattr(transport, "transport", None)
    if transport is None or not isinstance(getattr(transport, "dataBuffer", None), bytes):
        return None

    def backlog() -> int:
        queued: int = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        return queued

    return backlog
