"""The per-send cost of the slow-reader bound: `python -m bench.send_backlog`.

A real Twisted TCP connection on loopback (the transport daphne writes to), and
the three things a state send may add: nothing (no bound), Twisted's buffer
alone, and Twisted's buffer plus the kernel's send queue (TIOCOUTQ). Prints
nanoseconds per call of each reading.
"""

from __future__ import annotations

import functools
import socket
import sys
import timeit

from twisted.internet import abstract

from games.sockets.limits import transport_backlog


class _Transport(abstract.FileDescriptor):
    """A FileDescriptor over a real connected socket, as twisted.internet.tcp has."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.socket = sock
        self.disconnected = 0

    def getHandle(self) -> socket.socket:  # Twisted's name
        return self.socket


class _Protocol:
    def __init__(self, transport: _Transport) -> None:
        self.transport = transport


def main(number: int = 1_000_000) -> None:
    server, client = socket.socketpair()
    transport = _Transport(server)
    send = functools.partial(lambda protocol, message: None, _Protocol(transport))
    backlog = transport_backlog(send)
    assert backlog is not None
    twisted_only = functools.partial(
        lambda t: len(t.dataBuffer) - t.offset + t._tempDataLen, transport
    )
    for name, call in [
        ("nothing (a no-op call)", lambda: None),
        ("Twisted's buffer", twisted_only),
        ("Twisted's buffer + kernel queue", backlog),
    ]:
        seconds = min(timeit.repeat(call, number=number, repeat=5))
        print(f"{name:34} {seconds / number * 1e9:7.0f} ns per call")
    print(f"Python {sys.version.split()[0]}")
    client.close()
    server.close()


if __name__ == "__main__":
    main()
