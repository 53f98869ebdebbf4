"""Counters of what the runtime survived, for operators (prometheus_client).

Every process keeps its own; a scrape of /metrics (or a test) reads them.
Labels are few and bounded: a game name, a place, a close code, never a
match or player id, so the number of series stays small.
"""

from __future__ import annotations

from prometheus_client import Counter

RUNNER_ERRORS = Counter(
    "arcade_runner_errors_total",
    "Exceptions a match runner caught and survived, by game and where (input, tick).",
    ["game", "where"],
)
SOCKET_CLOSES = Counter(
    "arcade_socket_closes_total",
    "Sockets the server closed, by socket kind (match, lobby) and close code.",
    ["socket", "code"],
)
