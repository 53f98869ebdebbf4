"""A TCP proxy that delays every chunk by a base latency plus jitter, per direction, in order.

Each direction has its own delay line: a chunk read from one side is sent to
the other at `arrival + base ± jitter` (uniform), plus `spike` seconds for a
`spike_rate` share of the chunks, but never before the chunk ahead of it (TCP
keeps order, so a late chunk holds back the ones behind it, as a congested
link does). The delays can be changed while connections are open; a chunk
takes the delay in force when it arrives. TLS passes through untouched.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Delay:
    base: float = 0.0  # seconds, one way
    jitter: float = 0.0  # seconds, each chunk base - jitter .. base + jitter
    spike_rate: float = 0.0  # share of chunks delayed further
    spike: float = 0.0  # seconds added to those


class JitterProxy:
    def __init__(self, upstream_port: int, delay: Delay = Delay(), seed: int = 1) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _due(self, now: float) -> float:
        with self._lock:
            d = self.delay
            late = d.base + self._rng.uniform(-d.jitter, d.jitter)
            if d.spike_rate and self._rng.random() < d.spike_rate:
                late += d.spike
        return now + max(0.0, late)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                return
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                _DelayLine(self, source, target).start()


class _DelayLine:
    """One direction of one connection: a reader thread and a writer thread."""

    def __init__(self, proxy: JitterProxy, source: socket.socket, target: socket.socket) -> None:
        self.proxy, self.source, self.target = proxy, source, target
        self.chunks: deque[tuple[float, bytes]] = deque()
        self.ready = threading.Condition()
        self.last_due = 0.0

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.source.recv(65536):
                due = max(self.last_due, self.proxy._due(time.monotonic()))
                self.last_due = due
                with self.ready:
                    self.chunks.append((due, data))
                    self.ready.notify()
        with self.ready:
            self.chunks.append((self.last_due, b""))  # end of stream, after the rest
            self.ready.notify()

    def _write(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                with self.ready:
                    while not self.chunks:
                        self.ready.wait()
                    due, data = self.chunks.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # this thread is the simulated wire: waiting is its job
                if not data:
                    break
                self.target.sendall(data)
        for sock in (self.source, self.target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
