"""The metrics a real daphne process serves on its METRICS_PORT move when their events
happen, and the Grafana dashboard in deploy/ charts only metrics that process exports."""

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import connect

from tests.e2e.http_client import SiteClient
from tests.e2e.lifetime import until
from tests.e2e.netproxy import CuttableProxy
from tests.e2e.servers import (
    SERVERS,
    free_port,
    observed,
    prepare,
    production_env,
    serve,
)

TIMEOUT = 10
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "arcade.json"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)")


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory, redis_url):
    tmp = tmp_path_factory.mktemp("metrics")
    with observed(tmp, redis_url, "metrics", server=request.param) as running:
        yield running


def exposition(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def samples(port):
    """Every sample of the scrape: {(name, labels text): value}."""
    found = {}
    for line in exposition(port).splitlines():
        match = SAMPLE.match(line)
        if match:
            found[(match[1], match[2] or "")] = float(match[3])
    return found


def value(port, name, **labels):
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = [f'{key}="{val}"' for key, val in labels.items()]
    return sum(
        number
        for (sample, text), number in samples(port).items()
        if sample == name and all(label in text for label in wanted)
    )


def exported_names(port):
    """Every series name a query may use: samples, and the families declared without
    samples yet (a labelled counter before its first event), with their suffixes."""
    text = exposition(port)
    names = {match[1] for line in text.splitlines() if (match := SAMPLE.match(line))}
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
        "summary": ("_sum", "_count", "_created"),
    }
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            base = family.removesuffix("_total")
            names.update(base + suffix for suffix in suffixes.get(kind, ("",)))
            names.add(family)
    return names


async def next_frame(ws, kind, test=lambda f: True):
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and test(frame):
                return frame


def match_socket(host, match_id, client):
    return connect(
        f"ws://{host}/ws/match/{match_id}/",
        origin=f"http://{host}",
        additional_headers={"Cookie": f"sessionid={client.cookie('sessionid')}"},
    )


async def test_a_match_shows_in_sockets_runners_states_and_traffic(server):
    host, port = server["host"], server["metrics"]
    alice, bob = SiteClient(f"http://{host}"), SiteClient(f"http://{host}")
    alice.play_as_guest()
    bob.play_as_guest()
    match_id = alice.post_json("/api/matches/", {"game": "connect_four"})["id"]
    bob.post_json(f"/api/matches/{match_id}/join/")
    states_before = value(port, "arcade_states_sent_total")
    frames_in_before = value(port, "arcade_websocket_frames_total", socket="match", direction="in")

    async with match_socket(host, match_id, alice) as a, match_socket(host, match_id, bob) as b:
        seats = {}
        for ws in (a, b):
            welcome = await next_frame(ws, "welcome")
            seats[welcome["you"]["seat"]] = ws
            await ws.send(json.dumps({"type": "ready"}))
        first = await next_frame(a, "state")
        assert value(port, "arcade_sockets_open", socket="match", subprotocol="json") == 2
        assert value(port, "arcade_matches_running", game="connect_four", status="active") == 1
        assert value(port, "arcade_presence_sockets") == 2

        await seats[first["state"]["to_move"]].send(
            json.dumps({"type": "input", "data": {"column": 3}})
        )
        await next_frame(a, "state", lambda f: f["state"]["moves"] == 1)
        await next_frame(b, "state", lambda f: f["state"]["moves"] == 1)
        # Each of the two sockets got at least the opening state and the one after the move.
        assert value(port, "arcade_states_sent_total") >= states_before + 4
        # Same process for both players: no state crossed Redis.
        assert value(port, "arcade_state_publishes_total") == 0
        if server["server"] != "daphne":
            return  # WebSocket traffic is counted from autobahn's counts: daphne only
        frames_in = value(port, "arcade_websocket_frames_total", socket="match", direction="in")
        assert frames_in >= frames_in_before + 3  # two readies and the move
        assert value(port, "arcade_websocket_bytes_total", socket="match", direction="out") > 0

    # Closed sockets leave the gauges; what they sent stays counted.
    await until(
        lambda: value(port, "arcade_sockets_open", socket="match") == 0 or None,
        TIMEOUT,
        "match sockets closed",
        lambda: value(port, "arcade_sockets_open", socket="match"),
    )
    assert value(port, "arcade_websocket_frames_total", socket="match", direction="in") >= (
        frames_in
    )


# Counted once the consumers and the runner call their metrics (the hooks each names).
NOT_HOOKED = "not counted yet: the runtime does not call this metric's function"
# Counted as the event happens; the margin is for a loaded machine.
COUNTED_WITHIN = 5


async def test_a_closed_socket_is_counted_by_its_close_code(server):
    host, port = server["host"], server["metrics"]
    before = value(port, "arcade_socket_closes_total", socket="handshake", code="4404")
    async with connect(f"ws://{host}/ws/nope/", origin=f"http://{host}") as ws:
        await next_frame(ws, "closing")
    await until(
        lambda: (
            value(port, "arcade_socket_closes_total", socket="handshake", code="4404") == before + 1
            or None
        ),
        COUNTED_WITHIN,
        "the 4404 close counted",
    )


async def test_a_refused_frame_is_counted_by_its_error_code(server):
    host, port = server["host"], server["metrics"]
    before = value(port, "arcade_frames_refused_total", socket="lobby", code="malformed")
    async with connect(f"ws://{host}/ws/lobby/", origin=f"http://{host}") as ws:
        await ws.send("not json")
        await next_frame(ws, "error")
    assert value(port, "arcade_frames_refused_total", socket="lobby", code="malformed") == (
        before + 1
    )


async def test_a_runners_ticks_are_timed(server):
    host, port = server["host"], server["metrics"]
    client = SiteClient(f"http://{host}")
    client.play_as_guest()
    match_id = client.post_json("/api/matches/", {"game": "connect_four"})["id"]
    async with match_socket(host, match_id, client) as ws:
        await next_frame(ws, "welcome")
        await until(
            lambda: (
                value(port, "arcade_tick_duration_seconds_count", game="connect_four") > 0 or None
            ),
            COUNTED_WITHIN,
            "ticks timed",
        )
    assert value(port, "arcade_tick_lateness_seconds_count", game="connect_four") > 0


async def test_the_event_loop_heartbeat_beats(server):
    port = server["metrics"]
    await until(
        lambda: value(port, "arcade_event_loop_lag_seconds_count") >= 2 or None,
        TIMEOUT,
        "two heartbeats",
        lambda: value(port, "arcade_event_loop_lag_seconds_count"),
    )
    assert value(port, "arcade_event_loop_heartbeat_age_seconds") < 5
    assert value(port, "arcade_redis_up") == 1
    assert value(port, "arcade_draining") == 0


def dashboard_expressions():
    model = json.loads(DASHBOARD.read_text())
    panels = list(model["panels"])
    for panel in list(panels):
        panels += panel.get("panels", [])  # rows may hold panels of their own
    return [
        (panel["title"], target["expr"])
        for panel in panels
        for target in panel.get("targets", [])
        if "expr" in target
    ]


# PromQL words that are not metric names.
PROMQL = {
    "sum", "rate", "irate", "increase", "histogram_quantile", "by", "le", "max", "min",
    "avg", "time", "without", "count", "clamp_min", "topk", "on", "ignoring", "or",
    "and", "unless", "delta", "deriv", "max_over_time", "min_over_time", "abs",
    "vector", "label_replace", "offset", "bool", "changes", "resets",
}  # fmt: skip


def metric_names(expression):
    """The metric names of a PromQL expression: identifiers outside label matchers,
    grouping clauses, ranges and strings, that are not functions or keywords."""
    stripped = re.sub(r'"[^"]*"', "", expression)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\$\w+", "", stripped)  # dashboard variables ($__rate_interval)
    stripped = re.sub(r"(?<![\w:.])\d+(\.\d+)?([eE][+-]?\d+)?", "", stripped)  # numbers
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped))
    return names - PROMQL


def test_the_dashboard_charts_only_metrics_the_server_exports(server):
    expressions = dashboard_expressions()
    assert len(expressions) >= 15, "the dashboard charts the runtime, not a token panel"
    exported = exported_names(server["metrics"])
    charted = set()
    for title, expression in expressions:
        names = metric_names(expression)
        assert names, f"panel {title!r}: no metric in {expression!r}"
        missing = names - exported
        assert not missing, f"panel {title!r} charts {sorted(missing)}, not exported"
        charted |= names
    # Every family of the process's own is on the dashboard somewhere.
    ours = {name for name in exported if name.startswith("arcade_")}
    families = {re.sub(r"_(bucket|sum|count|created)$", "", name) for name in ours}
    uncharted = {
        family
        for family in families
        if not any(name == family or name.startswith(family + "_") for name in charted)
    }
    assert not uncharted, f"metrics not on the dashboard: {sorted(uncharted)}"


async def test_a_redis_outage_shows_while_it_lasts_and_is_counted(
    tmp_path, redis_url, redis_prefix
):
    proxy = CuttableProxy(urlsplit(redis_url).port or 6379)
    through = urlunsplit(urlsplit(redis_url)._replace(netloc=f"127.0.0.1:{proxy.port}"))
    metrics_port = free_port()
    env = production_env(
        tmp_path,
        REDIS_URL=through,
        REDIS_PREFIX=redis_prefix,
        CHANNEL_LAYER_PREFIX=redis_prefix,
        METRICS_PORT=str(metrics_port),
    )
    prepare(env)
    try:
        with serve(env) as port:
            host = f"127.0.0.1:{port}"
            # A socket gives the process its runtime, whose pub/sub connection notices outages.
            async with connect(f"ws://{host}/ws/lobby/", origin=f"http://{host}") as ws:
                await next_frame(ws, "lobby")
                assert value(metrics_port, "arcade_redis_up") == 1
                proxy.cut()
                await until(
                    lambda: value(metrics_port, "arcade_redis_up") == 0 or None,
                    TIMEOUT,
                    "Redis down in the metrics",
                )
                assert value(metrics_port, "arcade_redis_outages_total") == 1
                assert value(metrics_port, "arcade_redis_errors_total") >= 1
                proxy.restore()
                await until(
                    lambda: value(metrics_port, "arcade_redis_up") == 1 or None,
                    TIMEOUT,
                    "Redis back in the metrics",
                )
                assert value(metrics_port, "arcade_fanout_reconnections_total") >= 1
                assert value(metrics_port, "arcade_redis_outages_total") == 1
    finally:
        proxy.close()
