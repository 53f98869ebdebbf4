"""A TCP proxy between a browser and the server: a network that can be cut, or slowed.

Browsers keep open WebSockets through Playwright's offline emulation, so a real
network loss needs a real cut: the proxy resets every connection and refuses
new ones until it is restored. With `latency` it delays every byte by that
many seconds in each direction, like a distant server. It passes TLS through
untouched.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time

from tests.e2e.servers import free_port


class CuttableProxy:
    def __init__(self, upstream_port: int, latency: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.latency = latency
        self.port = free_port()
        self.online = True
        self.silent = False
        self._flowing = threading.Event()  # cleared while stalled
        self._flowing.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Reset every connection (as a dropped network would) and refuse new ones."""
        with self._lock:
            self.online = False
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _reset(sock)

    def blackhole(self) -> None:
        """Stop forwarding in both directions but keep every connection open: a silent peer."""
        with self._lock:
            self.silent = True

    def stall(self) -> None:
        """Hold every byte in both directions, connections open, until `restore`: a link
        that stalls, then delivers all it held at once (as TCP does after an outage)."""
        self._flowing.clear()

    def restore(self) -> None:
        """Accept connections and forward bytes again (what a blackhole swallowed is gone)."""
        with self._lock:
            self.online = True
            self.silent = False
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                online = self.online
            if not online:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                args = (source, target, self.latency, self)
                threading.Thread(target=_pump, args=args, daemon=True).start()


def _pump(
    source: socket.socket, target: socket.socket, latency: float, proxy: CuttableProxy
) -> None:
    chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
    if latency:
        late = threading.Thread(target=_deliver_late, args=(chunks, target), daemon=True)
        late.start()
    try:
        while data := source.recv(65536):
            if proxy.silent:
                continue  # swallowed: the other side hears nothing, not even a close
            proxy._flowing.wait()
            if latency:
                chunks.put((time.monotonic() + latency, data))
            else:
                target.sendall(data)
    except OSError:
        pass
    if latency:
        chunks.put((0.0, b""))  # end of stream, after everything still in flight
        late.join()
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _deliver_late(chunks: queue.Queue[tuple[float, bytes]], target: socket.socket) -> None:
    """Send each chunk when its time comes; the chunks keep their order."""
    with contextlib.suppress(OSError):
        while True:
            due, data = chunks.get()
            if not data:
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # this thread is the simulated wire: waiting is its job
            target.sendall(data)


def _reset(sock: socket.socket) -> None:
    # Linger 0: close with RST, no orderly FIN, like a connection that just died.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
