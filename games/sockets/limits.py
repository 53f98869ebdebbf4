"""Per-socket limits: token buckets, connection caps and the send backlog."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import ipaddress
import sys
import termios
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TokenBucket:
    """Allows `rate` events per second on average, and bursts of up to `burst`.

    Every frame a client sends is checked here first: the arithmetic is written
    out on locals, in less than half the time of `min` over the attributes.
    """

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
        tokens = self.tokens + (now - self.updated) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.updated = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
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
    to a TLS wrapper whose `transport` is the TCP one. Under an asyncio server
    (uvicorn) `send` is an `Outbox` (see `without_waiting`), which knows its own.
    Any other server: None.
    """
    if isinstance(send, Outbox):
        return send.backlog
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


# --- Servers whose send waits (uvicorn) --------------------------------------------------

# How long a socket closed while its client reads nothing may wait for its close
# frame to go out before its connection is dropped (daphne waits as long).
CLOSE_GRACE_SECONDS = 1.0
# The same wait for a slow reader's close (4011), which goes out behind its backlog
# (up to MAX_SOCKET_BACKLOG_BYTES and a few states): a client that reads at all gets
# the code, not a dropped connection, even on a slow link (256 KiB at 0.5 Mbit/s).
SLOW_READER_CLOSE_SECONDS = 5.0


class Outbox:
    """The server's `send` for one socket, in order, never waiting for its client.

    Under uvicorn `send` waits while the connection's write buffer is over its
    high-water mark (asyncio's flow control): a client that stops reading would
    hold whoever sends to it, and the runner and the fan-out send to every socket
    of a match in turn, so one such client froze the whole match. Here a frame
    goes straight to the server while the buffer is low; otherwise (and after,
    until the queue is empty, to keep the order) it waits in this socket's queue,
    which a task of its own writes out. What waits counts in the socket's backlog,
    so MAX_SOCKET_BACKLOG_BYTES closes a slow reader (4011) as under daphne; a
    close queued behind a backlog drops the connection after `close_grace` seconds.
    """

    def __init__(self, send: Callable[[dict[str, Any]], Any], transport: Any) -> None:
        self.send = send
        self.transport = transport
        self.queue: deque[dict[str, Any]] = deque()
        self.queued_bytes = 0
        self.close_grace = CLOSE_GRACE_SECONDS
        self.writer: asyncio.Task[None] | None = None
        # (A transport that does not tell its marks gets every frame through the queue.)
        limits = getattr(transport, "get_write_buffer_limits", None)
        marks: tuple[int, int] = limits() if limits else (0, 0)
        self.low_water, self.high_water = marks
        raw = transport.get_extra_info("socket")
        self.fileno: int = raw.fileno() if raw is not None else -1

    async def __call__(self, message: dict[str, Any]) -> None:
        if not self.queue:
            # Below the low-water mark the transport is not paused, and a frame that
            # leaves it under the high-water mark does not pause it: the send returns
            # without waiting. Anything else might wait, so it goes to the queue.
            buffered = self.transport.get_write_buffer_size()
            if buffered <= self.low_water and buffered + _size(message) + 14 <= self.high_water:
                await self.send(message)
                return
        self.queue.append(message)
        self.queued_bytes += _size(message)
        if message["type"] == "websocket.close":
            asyncio.get_running_loop().call_later(self.close_grace, self._drop)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while self.queue:
                message = self.queue[0]
                await self.send(message)
                self.queue.popleft()
                self.queued_bytes -= _size(message)
        except Exception:
            # The client went away (the server raises on a send after that): nothing
            # more can reach it, and its disconnect reaches the consumer as usual.
            self.queue.clear()
            self.queued_bytes = 0
        finally:
            self.writer = None

    def _drop(self) -> None:
        if self.queue and not self.transport.is_closing():
            self.transport.abort()

    def backlog(self) -> int:
        """Bytes for this client not yet sent: queued here, in the transport, in the kernel."""
        queued: int = self.queued_bytes + self.transport.get_write_buffer_size()
        if self.fileno >= 0 and not self.transport.is_closing():
            queued += _kernel_send_queue(self.fileno)
        return queued


def _size(message: dict[str, Any]) -> int:
    return len(message.get("bytes") or message.get("text") or "")


def without_waiting(send: Any) -> Any:
    """`send`, made an `Outbox` under an asyncio server (uvicorn); daphne's never waits."""
    transport = _asyncio_transport(send)
    return send if transport is None else Outbox(send, transport)


def _asyncio_transport(send: Any) -> Any:
    # uvicorn hands each application its protocol's bound `asgi_send` (or `send`).
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "get_write_buffer_size"):
        return None
    return transport


def bound_reads(send: Any, size: int) -> None:
    """Read at most `size` bytes from this socket's connection per turn of the loop.

    `send` is the server's send, as `without_waiting` returns it.

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
    if isinstance(send, Outbox) and hasattr(send.transport, "max_size"):
        # asyncio's own selector transports read `max_size` (256 KiB) per turn; uvloop's
        # cannot be told.
        with contextlib.suppress(AttributeError):
            send.transport.max_size = size


def _kernel_send_queue(fileno: int) -> int:
    try:
        raw = fcntl.ioctl(fileno, termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0  # not a socket that tells (not Linux): Twisted's buffer alone
    return int.from_bytes(raw, sys.byteorder)


def allow_close_time(send: Any, seconds: float) -> None:
    """Let this socket's next close wait `seconds` for its client's answer before the
    connection is dropped.

    `send` is the server's send, as `without_waiting` returns it. Under daphne it
    is autobahn's close handshake timeout of this one connection (1 s, from the
    factory): the close frame is queued behind everything already written, and
    once the timeout fires Twisted drops the connection with what is still in its
    buffer, the close frame included: a client that read again after that saw
    1006 instead of the code. Under uvicorn it is the Outbox's grace.
    """
    if isinstance(send, Outbox):
        send.close_grace = seconds
        return
    protocol = _daphne_protocol(send)
    if protocol is not None and hasattr(protocol, "closeHandshakeTimeout"):
        protocol.closeHandshakeTimeout = seconds


def stop_reading(send: Any) -> None:
    """Read nothing more from this socket's connection (daphne only; elsewhere a no-op).

    For a socket closed for abuse: what its client sends meanwhile stays in the
    kernel's buffers instead of being parsed frame by frame and queued for a
    consumer that drops it. The close frame still goes out; daphne drops the
    connection when the client's answer does not come within a second.
    """
    if isinstance(send, Outbox):
        with contextlib.suppress(RuntimeError):  # already closing
            send.transport.pause_reading()
        return
    pause = getattr(getattr(_daphne_protocol(send), "transport", None), "pauseProducing", None)
    if pause is not None:
        pause()


def _daphne_protocol(send: Any) -> Any:
    # daphne hands each application `partial(server.handle_reply, protocol)` as `send`.
    if isinstance(send, functools.partial) and send.args:
        return send.args[0]
    return None
