"""Leases under load: whether a process whose core is nearly full keeps its matches.

    .venv/bin/python bench/lease_under_load.py [--players 400] [--seconds 60] [--watched 8]
        [--contend 12]

The other side of the failover benchmark (bench/failover.py): a dead process's
matches must be adopted at once, a slow one's never. Two daphne processes
share Redis and one database. Process A, alone on core 0, runs every match:
`--players` simulated players (bench/loadgen.py, on core 1) in 8-player arena
matches with all their sockets on A load its event loop, and `--watched`
two-player arena matches have their first player on A (so A runs them) and
their second on B (on core 1), whose watchdog checks those leases at every
look, as it would before adopting a match. For `--seconds` the benchmark
takes A's CPU, reads the remaining life (PTTL) of every lease A holds every
100 ms, and counts lease losses (arcade_lease_losses_total on A), adoptions
(arcade_runner_adoptions_total on either), the welcomes the watched players
get again (an adopter greets every socket anew) and the lease warnings both
processes log. None of them is expected. MATCH_* settings pass through from
the environment, as for bench/failover.py.

`--contend S` plays the other work of a shared machine: from a third into the
window, two busy processes run on A's core for S seconds, so that A gets about
a third of it (its CPU per slice shows when).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
import redis.asyncio as aredis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import fixtures, servers, workers
from bench.failover import environment, open_seat, percentile
from bench.loadgen import SeatPlan, WorkerPlan

LOADED_CORE, OTHER_CORE = 0, 1
SAMPLE_SECONDS = 0.1  # how often each lease's remaining life is read
ADOPTIONS = "arcade_runner_adoptions_total"
LEASE_LOSSES = "arcade_lease_losses_total"
COUNTERS = (ADOPTIONS, LEASE_LOSSES)
CONTENDERS = 2  # busy processes on A's core with --contend
LEASE_WORDS = ("lease", "taken over", "adopt")  # in a server's warnings: something moved


@dataclass
class Watched:
    """What the watched matches' players saw during the window."""

    welcomes_again: int = 0  # welcomes after the first: a takeover greets every socket anew
    longest_gap_s: float = 0.0  # between two states, on a player of process B (warm-up too)
    closes: list[int] = field(default_factory=list)


@dataclass
class Result:
    players: int
    watched_matches: int
    seconds: float
    loaded_cpu_percent: float  # process A's share of its core over the window
    cpu_slices: list[float]  # the same per tenth of the window
    min_lease_left_s: float  # the closest any lease of A came to expiring
    lease_left_p1_s: float
    lease_missing: int  # samples in which a lease of a running match did not exist
    lease_losses: float
    adoptions: float
    lease_warnings: list[str]
    watched: Watched
    generator_p99_ms: float  # the load's own input-to-state latency, how loaded A is
    contended_s: float = 0.0  # --contend


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=400, help="load players on process A")
    parser.add_argument("--watched", type=int, default=8, help="two-player matches across A, B")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--contend", type=float, default=0.0, help="seconds of busy processes on A's core"
    )
    parser.add_argument("--generator", choices=workers.GENERATORS, default="node")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    return parser.parse_args(argv)


def load_plan(matches: list[fixtures.BenchMatch], port: int) -> WorkerPlan:
    """Every socket of the load matches on process A; the generator on the other core."""
    seats = [
        [
            SeatPlan(
                f"ws://127.0.0.1:{port}/ws/match/{m.id}/?ticket={fixtures.ticket(user, m.id)}",
                f"http://127.0.0.1:{port}",
            )
            for user in m.user_ids
        ]
        for m in matches
    ]
    return WorkerPlan(seats, {OTHER_CORE}, secrets.randbits(32))


async def watch(
    ws: ClientConnection, on_b: bool, until: Callable[[], float], seen: Watched
) -> None:
    """Read one watched player's frames up to `until()` (they must be read: a socket that
    lets its frames pile up is closed as a slow reader)."""
    last: float | None = None
    with contextlib.suppress(TimeoutError, ConnectionClosed):
        while time.monotonic() < until():
            async with asyncio.timeout(until() - time.monotonic()):
                raw = await ws.recv()
                frame = json.loads(raw)
                now = time.monotonic()
                if frame.get("type") == "welcome":
                    seen.welcomes_again += 1
                elif frame.get("type") == "state" and on_b:
                    if last is not None:
                        seen.longest_gap_s = max(seen.longest_gap_s, now - last)
                    last = now
    if ws.close_code is not None:
        seen.closes.append(ws.close_code)


async def sample_leases(
    client: aredis.Redis, keys: list[str], until: float, lefts: list[float]
) -> int:
    """Every SAMPLE_SECONDS, each lease's remaining life (s) into `lefts`; the samples in
    which a lease did not exist."""
    missing = 0
    while time.monotonic() < until:
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            for ttl in await pipe.execute():
                if ttl < 0:
                    missing += 1
                else:
                    lefts.append(ttl / 1000)
        await asyncio.sleep(SAMPLE_SECONDS)  # a sampling period
    return missing


def contend(start: float, seconds: float) -> None:
    """From `start` (monotonic), CONTENDERS busy processes on A's core for `seconds`."""
    time.sleep(max(0.0, start - time.monotonic()))  # until the contention is due
    busy = [
        subprocess.Popen(
            ["taskset", "-c", str(LOADED_CORE), sys.executable, "-c", "while True: pass"]
        )
        for _ in range(CONTENDERS)
    ]
    try:
        time.sleep(seconds)  # the contention's length
    finally:
        for process in busy:
            process.kill()
            process.wait()


def cpu_slices(pid: int, until: float, count: int) -> list[float]:
    """Process `pid`'s share of a core in each of `count` equal slices up to `until`."""
    shares = []
    length = (until - time.monotonic()) / count
    for _ in range(count):
        before = servers.CpuSample.take([pid])
        time.sleep(length)  # the slice being measured
        shares.append(servers.CpuSample.take([pid]).percent_since(before)[pid])
    return shares


async def measure(
    args: argparse.Namespace,
    loaded: servers.ServerProcess,
    other: servers.ServerProcess,
    watched: list[fixtures.BenchMatch],
    lease_keys: list[str],
    start_load: Callable[[], tuple[float, float]],
) -> tuple[Watched, list[float], int, list[float]]:
    """Open the watched matches (before the load: a saturated A may time a handshake
    out), start the load (`start_load`, blocking: the measuring window), then measure."""
    sockets = []
    for match in watched:  # the first player on A, who connects first, so A runs the match
        sockets.append((await open_seat(loaded.port, match.user_ids[0], match.id), False))
        sockets.append((await open_seat(other.port, match.user_ids[1], match.id), True))
    client = aredis.Redis.from_url(args.redis_url, socket_timeout=10)
    seen, lefts = Watched(), list[float]()
    end = time.monotonic() + 600.0  # until the window is known
    window: list[float] = []
    # Read from now on (the warm-up included): unread frames would pile up on A and B.
    readers = [
        asyncio.create_task(watch(ws, on_b, lambda: window[1] if window else end, seen))
        for ws, on_b in sockets
    ]
    try:
        start, end = await asyncio.to_thread(start_load)
        window[:] = [start, end]
        await asyncio.sleep(max(0.0, start - time.monotonic()))  # the warm-up
        missing_task = asyncio.create_task(sample_leases(client, lease_keys, end, lefts))
        contention = None
        if args.contend:
            due = start + (end - start) / 3
            contention = asyncio.create_task(asyncio.to_thread(contend, due, args.contend))
        slices = await asyncio.to_thread(cpu_slices, loaded.pid, end, 10)
        if contention is not None:
            await contention
        await asyncio.gather(*readers)
        missing = await missing_task
    finally:
        for ws, _ in sockets:
            await ws.close()
        await client.aclose()
    return seen, lefts, missing, slices


def run(args: argparse.Namespace, directory: Path, prefix: str) -> Result:
    env = environment(directory, args.redis_url, prefix)
    servers.manage(env, "migrate", "--noinput")
    fixtures.setup_django(env)
    players = fixtures.create_players(args.players + 2 * args.watched)
    load = fixtures.create_matches(players[: args.players])
    watched = fixtures.create_matches(players[args.players :], 2)
    lease_keys = [f"{prefix}:lease:{m.id}" for m in [*load, *watched]]
    loaded = servers.start_server(
        "daphne", env, {LOADED_CORE}, directory, [], metrics_port=servers.free_port()
    )
    other = servers.start_server(
        "daphne", env, {OTHER_CORE}, directory, [], metrics_port=servers.free_port()
    )
    generators: list[workers.Worker] = []
    before: list[dict[str, float]] = []

    def start_load() -> tuple[float, float]:
        generators.append(workers.spawn_worker(args.generator, load_plan(load, loaded.port)))
        for worker in generators:
            worker.receive("ready", timeout=120)
        before.extend(servers.scrape_metrics(s.metrics_port, COUNTERS) for s in (loaded, other))
        for server in (loaded, other):
            server.new_log_lines()
        start = time.monotonic() + args.warmup
        end = start + args.seconds
        for worker in generators:
            worker.send(("measure", start, end, end + 1.0))
        return start, end

    try:
        seen, lefts, missing, slices = asyncio.run(
            measure(args, loaded, other, watched, lease_keys, start_load)
        )
        after = [servers.scrape_metrics(s.metrics_port, COUNTERS) for s in (loaded, other)]
        results = [worker.receive("result", timeout=60) for worker in generators]
        warnings = [
            line
            for server in (loaded, other)
            for line in server.new_log_lines()
            if any(word in line for word in LEASE_WORDS)
        ]
    finally:
        fixtures.abort_matches([*load, *watched])
        for worker in generators:
            with contextlib.suppress(Exception):
                worker.send(("close",))
                worker.receive("closed", timeout=30)
            worker.stop()
        servers.stop_server(loaded)
        servers.stop_server(other)
    latencies = sorted(x for r in results for x in r.latencies_ms)
    lefts.sort()
    return Result(
        players=args.players,
        watched_matches=args.watched,
        seconds=args.seconds,
        loaded_cpu_percent=sum(slices) / len(slices),
        cpu_slices=slices,
        min_lease_left_s=lefts[0] if lefts else math.nan,
        lease_left_p1_s=percentile(lefts, 0.01) if lefts else math.nan,
        lease_missing=missing,
        lease_losses=after[0][LEASE_LOSSES] - before[0][LEASE_LOSSES],
        adoptions=sum(a[ADOPTIONS] - b[ADOPTIONS] for a, b in zip(after, before, strict=True)),
        lease_warnings=warnings,
        watched=seen,
        generator_p99_ms=percentile(latencies, 0.99) if latencies else math.nan,
        contended_s=args.contend,
    )


def report(result: Result) -> None:
    lease = os.environ.get("MATCH_LEASE_SECONDS", "3.0 (default)")
    print(
        f"process A: {result.players} players in 8-player matches and {result.watched_matches} "
        f"watched matches for {result.seconds:.0f} s; lease {lease} s"
    )
    if result.contended_s:
        print(
            f"contended: {CONTENDERS} busy processes on A's core for {result.contended_s:.0f} s "
            f"from {result.seconds / 3:.0f} s into the window"
        )
    slices = " ".join(f"{share:.0f}" for share in result.cpu_slices)
    print(f"A's CPU: {result.loaded_cpu_percent:.0f} % of its core (per slice: {slices})")
    print(f"the load's p99 input-to-state latency: {result.generator_p99_ms:.0f} ms")
    print(
        f"leases: closest to expiry {result.min_lease_left_s:.2f} s left "
        f"(p1 {result.lease_left_p1_s:.2f} s), missing in {result.lease_missing} samples"
    )
    print(
        f"lease losses {result.lease_losses:.0f}, adoptions {result.adoptions:.0f}, welcomes "
        f"again {result.watched.welcomes_again}, closes {result.watched.closes or 'none'}, "
        f"longest gap on B {result.watched.longest_gap_s:.2f} s"
    )
    for line in result.lease_warnings:
        print(f"  logged: {line}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.generator == "node":
        workers.check_node()
    os.sched_setaffinity(0, {OTHER_CORE})  # the watched players' side, with the generator
    directory = Path(tempfile.mkdtemp(prefix="arcade-lease-load-"))
    prefix = f"arcade-lease-load-{secrets.token_hex(6)}"
    client = redis.Redis.from_url(args.redis_url, socket_timeout=10)
    try:
        result = run(args, directory, prefix)
    finally:
        servers.delete_keys(client, prefix)
    report(result)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"lease-under-load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(asdict(result)))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
