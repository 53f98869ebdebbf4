"""Counters of what the runtime survived, for operators (prometheus_client).

Every process keeps its own; a scrape of /metrics (or a test) reads them.
Labels are few and bounded: a game name, a place, a close code, never a
match or player id, so the number of series stays small.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


# --- What this process holds now (gauges, read at scrape time) -------------------------


class LiveRegistrations(Collector):
    """How many sockets each registry of this process holds, and its runners.

    Read at each scrape from the process's supervisor, so a count that stays
    above the number of open sockets is a leak an operator (or a test) can see.
    Scrapes run on the metrics server's thread: only sizes are read (len() of a
    dict or set is atomic), never the registries' contents while they change.
    """

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registering must not read the supervisor (not imported yet)

    def collect(self) -> Iterator[Metric]:
        from games.runtime import process as supervisors  # the supervisor imports this module

        current = supervisors.current()
        registrations = GaugeMetricFamily(
            "arcade_socket_registrations",
            "Sockets registered in this process, by registry.",
            labels=["registry"],
        )
        runners = GaugeMetricFamily("arcade_match_runners", "Match runners in this process.")
        counts = current.registrations() if current is not None else {}
        for registry, count in sorted(counts.items()):
            registrations.add_metric([registry], count)
        runners.add_metric([], len(current.runners) if current is not None else 0)
        yield registrations
        yield runners


REGISTRY.register(LiveRegistrations())


def serve(port: int, address: str) -> None:
    """Serve /metrics on a port of its own (on its own thread), for operators only.

    Bound to loopback by default: it is for the host's scraper, never the public.
    """
    start_http_server(port, addr=address)
