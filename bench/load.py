"""Capacity benchmark: simulated players in 8-player arena matches against real servers.

    .venv/bin/python bench/load.py --steps 100,200,300,400,500,600 --seconds 10 \\
        --server daphne [--processes 1] [--redis-url redis://127.0.0.1:6379/0] [--profile]

Starts the server processes itself (daphne or uvicorn, production settings,
each pinned to the server cores), runs each load step with real WebSocket
clients in generator processes pinned to the other cores, and prints per step:
players, p50 and p99 latency from an input to the first state acknowledging
it, the share of expected state messages delivered, server CPU and memory,
Redis commands per tick, and the generator's own load. The capacity is the
most players of a step with p99 <= 100 ms and >= 95 % of states delivered.
bench/README.md explains the method and every column.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import fixtures, servers, workers
from bench.loadgen import COMPACT, JSON, MSGPACK, SeatPlan, WorkerPlan, WorkerResult

TICK_RATE = 20  # the arena's, and the rate each player sends inputs at
TAIL_SECONDS = 1.0  # after the window, for acks of its last inputs to arrive
SKIPPED_TICKS = "ticks behind and skipped"  # the runner's warning when it cannot keep up
# Above this share of its core (whoever used it), the generator's own delays may be in the
# latencies: such a step is marked doubtful, and does not say where the server's limit is.
GENERATOR_CORE_LIMIT = 85.0
ROUTES = ("round-robin", "match")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps",
        default="100,200,300,400,500,600",
        help="players per step, comma-separated (rounded up to whole matches)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per step")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of play before each measurement"
    )
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument(
        "--app",
        choices=tuple(servers.APPLICATIONS),
        default="game",
        help="what the servers serve: the game server, or the floor (bench/floor.py: the "
        "protocol's minimum without Django, Channels or a game, an upper bound)",
    )
    parser.add_argument("--processes", type=int, default=1, help="server processes")
    parser.add_argument(
        "--route",
        choices=ROUTES,
        default=None,
        help="how players' sockets reach the processes: round-robin (the default when direct: "
        "a match's sockets split over the processes), or match (every socket of a match to "
        "one process, by a consistent hash of the match id, as deploy/nginx/arcade.conf "
        "routes them; always so through nginx)",
    )
    parser.add_argument(
        "--through",
        choices=("direct", "nginx"),
        default="direct",
        help="direct: players connect to each process over ws://; nginx: over wss:// "
        "through the `make cluster` nginx site (deploy/nginx/, a test certificate)",
    )
    parser.add_argument(
        "--nginx-cpus", default="", help="cores of nginx (default: the server cores)"
    )
    parser.add_argument("--server-cpus", default="0", help="cores of the server processes")
    parser.add_argument(
        "--client-cpus", default="1", help="cores of the load generator (and of this script)"
    )
    parser.add_argument(
        "--generator",
        choices=workers.GENERATORS,
        default="node",
        help="the load generator: Node.js with the ws package (bench/node/, `npm ci` there "
        "first), or Python with websockets; same players, same measurements",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="generator processes per step (default: one per client core, "
        "more past --players-per-worker)",
    )
    parser.add_argument(
        "--players-per-worker",
        type=int,
        default=0,
        help="players past which a step gets another generator process "
        f"(default: {workers.PLAYERS_PER_WORKER})",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="database of the run (default: a fresh SQLite file); it is "
        "migrated and keeps the run's players and matches",
    )
    parser.add_argument(
        "--subprotocol",
        choices=(MSGPACK, JSON, COMPACT),
        default=MSGPACK,
        help="what the players offer: state frames as msgpack, as JSON, or as the "
        "browser's compact frames and their deltas (implies --send-acks; not the floor)",
    )
    parser.add_argument(
        "--send-acks",
        action="store_true",
        help="players put the newest state tick they have in each input (`ack`), "
        "for servers whose protocol takes it",
    )
    parser.add_argument(
        "--one-tick-inputs",
        action="store_true",
        help="players mark each input as one tick of movement (`ticks: 1`), as the "
        "browser does, instead of held controls",
    )
    parser.add_argument(
        "--server-args", default="", help="extra command-line arguments for every server process"
    )
    parser.add_argument(
        "--profile", action="store_true", help="after the steps, run the largest again under py-spy"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="directory for the JSON results and profiles",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's directory (server logs, SQLite file)"
    )
    parser.add_argument("--max-p99", type=float, default=100.0, help="capacity criterion, ms")
    parser.add_argument(
        "--min-delivered",
        type=float,
        default=0.95,
        help="capacity criterion, share of expected states",
    )
    args = parser.parse_args(argv)
    if args.through == "nginx":
        if args.route == "round-robin" and args.processes > 1:
            parser.error("through nginx, the site routes every socket of a match to one process")
        args.route = "match"
        args.nginx_cpus = args.nginx_cpus or args.server_cpus
    args.route = args.route or "round-robin"
    if args.subprotocol == COMPACT:
        if args.app == "floor":
            parser.error("the floor sends states as msgpack or JSON, not as compact frames")
        args.send_acks = True  # deltas are taken from the states a client acknowledged
    return args


def cpus(text: str) -> set[int]:
    return {int(cpu) for cpu in text.split(",") if cpu.strip()}


# --- Results ---------------------------------------------------------------------------


@dataclass
class ServerFigures:
    pid: int
    cpu_percent: float
    rss_mib: float
    warnings: int
    skipped_ticks: int


@dataclass
class StepResult:
    players: int
    matches: int
    active: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    inputs: int
    unacked: int
    delivered: float
    ticks_advanced: float  # the match clocks' progress seen by players, share of wall-clock ticks
    servers_other_cpu_percent: float  # what other processes used of the server cores
    clients_other_cpu_percent: float  # and of the generator's cores
    servers: list[ServerFigures]
    # The runners of each process at the window's end (from its /metrics; [] without them).
    runners_per_process: list[int]
    # States the runners published over Redis for sockets on another process (one per
    # state and other process), and states handed to sockets, per tick (None: no metrics).
    states_over_redis_per_tick: float | None
    states_handed_per_tick: float | None
    nginx_cpu_percent: float | None  # nginx's master and worker, percent of one core
    redis_commands_per_tick: float
    redis_kib_per_tick: float
    redis_top: list[tuple[str, float]]
    redis_cpu_percent: float
    generator_cpu_percent: float  # the generator's processes, percent of one core
    generator_core_percent: float  # the busiest generator core, every process on it
    generator_percent_per_100_players: float  # what the generator costs, to compare generators
    generator_lag_p99_ms: float
    skipped_sends: int
    delta_states: int  # compact states of the window that came as deltas
    errors: dict[str, int] = field(default_factory=dict)
    closes: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    profiled: bool = False
    doubtful: list[str] = field(default_factory=list)  # why the generator may have set the pace

    def passes(self, max_p99: float, min_delivered: float) -> bool:
        complete = self.active == self.players
        return complete and self.p99_ms <= max_p99 and self.delivered >= min_delivered


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (inf for an empty list)."""
    if not ordered:
        return math.inf
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- The run -----------------------------------------------------------------------------


class Run:
    """One benchmark run: its servers, Redis prefix, database and players."""

    def __init__(self, args: argparse.Namespace, directory: Path) -> None:
        self.args = args
        self.directory = directory
        self.server_cpus = cpus(args.server_cpus)
        self.client_cpus = cpus(args.client_cpus)
        # Every key of this run (the server's and the channel layer's) starts with this.
        self.prefix = f"arcade-bench-{secrets.token_hex(6)}"
        self.redis = redis.Redis.from_url(args.redis_url, socket_timeout=10)
        self.env = self._environment()
        self.servers: list[servers.ServerProcess] = []
        self.nginx: servers.Nginx | None = None
        self.players: list[Any] = []

    def _environment(self) -> dict[str, str]:
        """Production settings (DEBUG off) on this run's own database and Redis prefix."""
        return servers.environment(
            self.directory, self.args.redis_url, self.prefix, self.args.database_url or ""
        )

    @contextlib.contextmanager
    def started(self) -> Iterator[None]:
        servers.manage(self.env, "migrate", "--noinput")
        fixtures.setup_django(self.env)
        extra = shlex.split(self.args.server_args)
        # Only the game server has the match metrics (the floor has none), and uvicorn
        # runs here with --lifespan off, the start-up that would serve them.
        metrics = self.args.app == "game" and self.args.server == "daphne"
        try:
            for _ in range(self.args.processes):
                self.servers.append(
                    servers.start_server(
                        self.args.server,
                        self.env,
                        self.server_cpus,
                        self.directory,
                        extra,
                        application=servers.APPLICATIONS[self.args.app],
                        metrics_port=servers.free_port() if metrics else 0,
                    )
                )
            if self.args.through == "nginx":
                ports = [server.port for server in self.servers]
                nginx_cpus = cpus(self.args.nginx_cpus)
                self.nginx = servers.start_nginx(ports, nginx_cpus, self.directory / "nginx")
            yield
        finally:
            if self.nginx is not None:
                servers.stop_nginx(self.nginx)
            for server in self.servers:
                servers.stop_server(server)
            servers.delete_keys(self.redis, self.prefix)

    def ensure_players(self, count: int) -> None:
        if len(self.players) < count:
            self.players += fixtures.create_players(count - len(self.players))

    def check_servers(self) -> None:
        for server in self.servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.kind} (pid {server.pid}) died; see {server.log_path}")

    # --- One step -----------------------------------------------------------------------

    def step(self, players: int, *, profile_dir: Path | None = None) -> StepResult:
        self.check_servers()
        self.ensure_players(players)
        matches = fixtures.create_matches(self.players[:players])
        plans = self._plans(matches)
        generators = [workers.spawn_worker(self.args.generator, plan) for plan in plans]
        try:
            return self._measure(players, matches, generators, profile_dir)
        finally:
            fixtures.abort_matches(matches)
            self._close_workers(generators)
            self._settle()

    def _plans(self, matches: list[fixtures.BenchMatch]) -> list[WorkerPlan]:
        """Each match whole in one generator process; its sockets routed to the servers."""
        players = sum(len(m.user_ids) for m in matches)
        per_worker = self.args.players_per_worker or workers.PLAYERS_PER_WORKER[self.args.generator]
        count = self.args.workers or max(len(self.client_cpus), math.ceil(players / per_worker))
        count = min(count, len(matches))
        groups: list[list[list[SeatPlan]]] = [[] for _ in range(count)]
        ring = servers.MatchRing(len(self.servers))
        connection = 0
        for index, match in enumerate(matches):
            home = ring.index(match.id)
            seats = []
            for user_id in match.user_ids:
                if self.args.route == "match":
                    server = self.servers[home]
                else:  # round robin over the processes, as a plain load balancer spreads sockets
                    server = self.servers[connection % len(self.servers)]
                connection += 1
                seats.append(self._seat(server.port, user_id, match.id))
            groups[index % count].append(seats)
        ca = str(self.nginx.ca) if self.nginx is not None else ""
        return [
            WorkerPlan(
                group,
                self.client_cpus,
                secrets.randbits(32),
                subprotocol=self.args.subprotocol,
                send_acks=self.args.send_acks,
                one_tick_inputs=self.args.one_tick_inputs,
                ca_file=ca,
            )
            for group in groups
        ]

    def _seat(self, port: int, user_id: int, match_id: str) -> SeatPlan:
        path = f"/ws/match/{match_id}/?ticket={fixtures.ticket(user_id, match_id)}"
        if self.nginx is not None:  # nginx picks the process, by its own hash of the match id
            address = f"127.0.0.1:{self.nginx.https_port}"
            return SeatPlan(f"wss://{address}{path}", f"https://{address}")
        return SeatPlan(f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}")

    def _measure(
        self,
        players: int,
        matches: list[fixtures.BenchMatch],
        generators: list[workers.Worker],
        profile_dir: Path | None,
    ) -> StepResult:
        ready = [worker.receive("ready", timeout=120) for worker in generators]
        failures: Counter[str] = Counter()
        for report in ready:
            failures.update(report.failures)
        start = time.monotonic() + self.args.warmup
        end = start + self.args.seconds
        for worker in generators:
            worker.send(("measure", start, end, end + TAIL_SECONDS))
        for server in self.servers:
            server.new_log_lines()  # only the window's warnings count
        server_pids = [s.pid for s in self.servers]
        worker_pids = [w.pid for w in generators if w.pid is not None]
        nginx_pids = self.nginx.pids() if self.nginx is not None else []
        _sleep_until(start)
        ours = [*server_pids, *worker_pids, *nginx_pids, os.getpid()]
        cores_before = servers.CoreSample.take()
        cpu_before = servers.CpuSample.take(ours)
        redis_before = servers.RedisSample.take(self.redis)
        metrics_before = self._metrics()
        profiles = self._start_profiles(profile_dir)
        _sleep_until(end)
        cpu_after = servers.CpuSample.take(ours)
        cores_after = servers.CoreSample.take()
        redis_after = servers.RedisSample.take(self.redis)
        metrics_after = self._metrics()
        cpu = cpu_after.percent_since(cpu_before)
        clients = sum(cpu[pid] for pid in [*worker_pids, os.getpid()])
        nginx = sum(cpu[pid] for pid in nginx_pids)
        # nginx is ours: on the server cores (or the generator's) it is not "other" load.
        nginx_cores = cpus(self.args.nginx_cpus) if self.nginx is not None else set()
        on_servers = nginx if nginx_cores & self.server_cpus else 0.0
        on_clients = nginx if nginx_cores & self.client_cpus and not on_servers else 0.0
        other_servers = cores_after.percent_since(cores_before, self.server_cpus) - sum(
            cpu[pid] for pid in server_pids
        )
        other_servers -= on_servers
        other_clients = cores_after.percent_since(cores_before, self.client_cpus) - clients
        other_clients -= on_clients
        ticks = (cpu_after.at - cpu_before.at) * TICK_RATE
        moved = _per_tick(metrics_before, metrics_after, servers.STATE_PUBLISHES, ticks)
        handed = _per_tick(metrics_before, metrics_after, servers.STATES_SENT, ticks)
        busiest = max(cores_after.percent_since(cores_before, {c}) for c in self.client_cpus)
        figures = [self._server_figures(server, cpu[server.pid]) for server in self.servers]
        results: list[WorkerResult] = [w.receive("result", timeout=60) for w in generators]
        self._finish_profiles(profiles)
        return _step_result(
            players=players,
            matches=len(matches),
            active=sum(r.active for r in ready),
            seconds=cpu_after.at - cpu_before.at,
            results=results,
            servers=figures,
            routing=(_runners(metrics_after), moved, handed),
            nginx_cpu=nginx if self.nginx is not None else None,
            redis=servers.RedisDelta.between(redis_before, redis_after),
            generator_cpu=(sum(cpu[pid] for pid in worker_pids), busiest),
            other_cpu=(max(0.0, other_servers), max(0.0, other_clients)),
            failures=failures,
            profiled=profile_dir is not None,
        )

    def _metrics(self) -> list[dict[str, float]] | None:
        """Each process's match counters, or None without them (the floor, a failed scrape)."""
        try:
            return [servers.scrape_metrics(s.metrics_port) for s in self.servers if s.metrics_port]
        except OSError as error:
            print(f"could not read a server's /metrics: {error}")
            return None

    def _server_figures(self, server: servers.ServerProcess, cpu: float) -> ServerFigures:
        lines = server.new_log_lines()
        skipped = 0
        for line in lines:
            if SKIPPED_TICKS in line:
                with contextlib.suppress(ValueError, IndexError):
                    skipped += int(line.split(" fell ")[1].split()[0])
        warnings = sum(1 for line in lines if " WARNING " in line or " ERROR " in line)
        return ServerFigures(server.pid, cpu, servers.rss_mib(server.pid), warnings, skipped)

    def _start_profiles(self, profile_dir: Path | None) -> list[tuple[int, Any, Path]]:
        if profile_dir is None:
            return []
        started = []
        for server in self.servers:
            process, target = servers.start_profile(server, self.args.seconds, profile_dir)
            started.append((server.pid, process, target))
        return started

    def _finish_profiles(self, profiles: list[tuple[int, Any, Path]]) -> None:
        for pid, process, target in profiles:
            _, error = process.communicate(timeout=60)
            if process.returncode != 0 or not target.exists():
                print(f"py-spy failed on pid {pid}: {error.decode(errors='replace')[-500:]}")
                continue
            summary = servers.summarise_profile(pid, target)
            print(
                f"\nprofile of {self.args.server} pid {pid}: {summary.seconds:.1f} s sampled busy"
            )
            print(f"  speedscope: {summary.speedscope}\n  top functions: {summary.text}")
            for name, share in summary.top_self[:15]:
                print(f"  {share:5.1f}% self       {name}")
            for name, share in summary.top_project[:10]:
                print(f"  {share:5.1f}% inclusive  {name}")

    def _close_workers(self, generators: list[workers.Worker]) -> None:
        for worker in generators:
            with contextlib.suppress(OSError):
                worker.send(("close",))
        for worker in generators:
            with contextlib.suppress(Exception):
                worker.receive("closed", timeout=30)
            worker.stop()

    def _settle(self, timeout: float = 15.0) -> None:
        """Wait until the servers are idle again (runners stopped, sockets gone)."""
        pids = [s.pid for s in self.servers]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = servers.CpuSample.take(pids)
            time.sleep(0.5)
            busy = servers.CpuSample.take(pids).percent_since(before)
            if all(share < 5.0 for share in busy.values()):
                return


def _per_tick(
    before: list[dict[str, float]] | None,
    after: list[dict[str, float]] | None,
    name: str,
    ticks: float,
) -> float | None:
    """A counter's growth over the window, summed over the processes, per tick."""
    if not before or not after or len(before) != len(after):
        return None
    return sum(a[name] - b[name] for a, b in zip(after, before, strict=True)) / ticks


def _runners(metrics: list[dict[str, float]] | None) -> list[int]:
    return [round(m[servers.MATCHES_RUNNING]) for m in metrics or []]


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _step_result(
    *,
    players: int,
    matches: int,
    active: int,
    seconds: float,
    results: list[WorkerResult],
    servers: list[ServerFigures],
    routing: tuple[list[int], float | None, float | None],
    nginx_cpu: float | None,
    redis: Any,
    generator_cpu: tuple[float, float],
    other_cpu: tuple[float, float],
    failures: Counter[str],
    profiled: bool,
) -> StepResult:
    # An input never acknowledged counts as infinitely late: p99 must not hide losses.
    latencies = sorted(x for r in results for x in r.latencies_ms)
    unacked = sum(r.unacked for r in results)
    ordered = latencies + [math.inf] * unacked
    lag = sorted(x for r in results for x in r.send_lag_ms)
    ticks = seconds * TICK_RATE
    errors: Counter[str] = Counter()
    closes: Counter[int] = Counter()
    for r in results:
        errors.update(r.errors)
        closes.update(r.closes)
    skipped_sends = sum(r.skipped_sends for r in results)
    return StepResult(
        players=players,
        matches=matches,
        active=active,
        seconds=seconds,
        p50_ms=percentile(ordered, 0.50),
        p99_ms=percentile(ordered, 0.99),
        max_ms=ordered[-1] if ordered else math.inf,
        inputs=sum(r.inputs for r in results),
        unacked=unacked,
        delivered=sum(r.states for r in results) / (ticks * players),
        ticks_advanced=sum(r.ticks_spanned for r in results) / (ticks * players),
        servers_other_cpu_percent=other_cpu[0],
        clients_other_cpu_percent=other_cpu[1],
        servers=servers,
        runners_per_process=routing[0],
        states_over_redis_per_tick=routing[1],
        states_handed_per_tick=routing[2],
        nginx_cpu_percent=nginx_cpu,
        redis_commands_per_tick=redis.commands / ticks,
        redis_kib_per_tick=redis.net_bytes / 1024.0 / ticks,
        redis_top=[(name, count / ticks) for name, count in redis.calls.most_common(4)],
        redis_cpu_percent=100.0 * redis.cpu_seconds / seconds,
        generator_cpu_percent=generator_cpu[0],
        generator_core_percent=generator_cpu[1],
        generator_percent_per_100_players=100.0 * generator_cpu[0] / max(players, 1),
        generator_lag_p99_ms=percentile(lag, 0.99) if lag else 0.0,
        skipped_sends=skipped_sends,
        delta_states=sum(r.delta_states for r in results),
        errors=dict(errors),
        closes=dict(closes),
        failures=dict(failures),
        profiled=profiled,
        doubtful=doubts(generator_cpu[1], skipped_sends),
    )


def doubts(core_percent: float, skipped_sends: int) -> list[str]:
    """Why the generator, not the server, may have set a step's latencies."""
    reasons = []
    if core_percent > GENERATOR_CORE_LIMIT:
        reasons.append(
            f"the generator's core was {core_percent:.0f} % busy (above "
            f"{GENERATOR_CORE_LIMIT:.0f} %): latency may include the generator's own delay"
        )
    if skipped_sends:
        reasons.append(
            f"the generator fell a whole input period behind and skipped {skipped_sends} "
            "inputs (its core was busy)"
        )
    return reasons


# --- Report ----------------------------------------------------------------------------

HEADER = (
    f"{'players':>7} {'matches':>7} {'p50 ms':>7} {'p99 ms':>7} {'delivered':>9} "
    f"{'server CPU %':>12} {'RSS MiB':>8} {'redis cmd/tick':>14} {'gen CPU %':>9} "
    f"{'gen core %':>10} {'gen lag p99':>11}"
)


def _ms(value: float) -> str:
    return "lost" if math.isinf(value) else f"{value:.1f}"


def format_row(step: StepResult) -> str:
    cpu = "+".join(f"{s.cpu_percent:.0f}" for s in step.servers)
    rss = "+".join(f"{s.rss_mib:.0f}" for s in step.servers)
    row = (
        f"{step.players:>7} {step.matches:>7} {_ms(step.p50_ms):>7} {_ms(step.p99_ms):>7} "
        f"{step.delivered:>8.1%} {cpu:>12} {rss:>8} {step.redis_commands_per_tick:>14.1f} "
        f"{step.generator_cpu_percent:>9.0f} {step.generator_core_percent:>10.0f} "
        f"{step.generator_lag_p99_ms:>8.1f} ms"
    )
    return row + ("  DOUBTFUL" if step.doubtful else "") + ("  (profiled)" if step.profiled else "")


def format_notes(step: StepResult) -> list[str]:
    notes = [f"doubtful: {reason}" for reason in step.doubtful]
    if step.active < step.players:
        notes.append(f"only {step.active} of {step.players} players got into a running match")
    if step.failures:
        notes.append(f"connection failures: {step.failures}")
    if step.unacked:
        notes.append(f"{step.unacked} of {step.inputs} inputs never acknowledged")
    if step.delivered < 0.995:
        notes.append(
            f"match clocks advanced {step.ticks_advanced:.1%} of wall-clock ticks; "
            f"{step.delivered / max(step.ticks_advanced, 1e-9):.1%} of their ticks reached players"
        )
    if step.servers_other_cpu_percent > 5.0 or step.clients_other_cpu_percent > 10.0:
        notes.append(
            f"other processes (Redis among them) used {step.servers_other_cpu_percent:.0f} % "
            f"of the server core(s) and {step.clients_other_cpu_percent:.0f} % of the "
            "generator's: figures may be disturbed"
        )
    skipped = sum(s.skipped_ticks for s in step.servers)
    warnings = sum(s.warnings for s in step.servers)
    if skipped or warnings:
        notes.append(f"server log: {warnings} warnings, {skipped} ticks skipped by runners")
    if step.errors or step.closes:
        notes.append(f"error frames: {step.errors}; closes: {step.closes}")
    notes.append(
        f"generator: {step.generator_percent_per_100_players:.1f} % of a core per 100 players"
    )
    if step.delta_states:
        states = step.delivered * step.seconds * TICK_RATE * step.players
        notes.append(f"compact: {step.delta_states / max(states, 1):.0%} of the states as deltas")
    if step.nginx_cpu_percent is not None:
        per_100 = 100.0 * step.nginx_cpu_percent / max(step.players, 1)
        notes.append(
            f"nginx: {step.nginx_cpu_percent:.0f} % of a core ({per_100:.1f} % per 100 players)"
        )
    if step.states_over_redis_per_tick is not None and step.states_handed_per_tick is not None:
        runners = "+".join(map(str, step.runners_per_process))
        where = (
            f"; match runners per process {runners}" if len(step.runners_per_process) > 1 else ""
        )
        notes.append(
            f"states over redis per tick: {step.states_over_redis_per_tick:.1f} (states handed "
            f"to sockets {step.states_handed_per_tick:.0f}){where}"
        )
    top = ", ".join(f"{name} {per_tick:.1f}" for name, per_tick in step.redis_top)
    notes.append(
        f"redis per tick: {top}; {step.redis_kib_per_tick:.1f} KiB in+out per tick; "
        f"redis CPU {step.redis_cpu_percent:.0f} %"
    )
    return notes


def print_step(step: StepResult) -> None:
    print(format_row(step))
    for note in format_notes(step):
        print(f"{'':>9}- {note}")
    sys.stdout.flush()


def disturbed(step: StepResult) -> bool:
    """Whether other processes or the generator's own limit may have spoilt a step."""
    return (
        step.servers_other_cpu_percent > 5.0
        or step.clients_other_cpu_percent > 10.0
        or bool(step.doubtful)
    )


def capacity_line(steps: list[StepResult], args: argparse.Namespace) -> str:
    measured = [s for s in steps if not s.profiled]
    passing = [s for s in measured if s.passes(args.max_p99, args.min_delivered)]
    criteria = f"p99 <= {args.max_p99:.0f} ms and >= {args.min_delivered:.0%} of states delivered"
    caveat = ""
    if any(disturbed(s) for s in measured):
        caveat = "; some steps were disturbed (see their notes): run again on a quiet machine"
    failing = [s for s in measured if s not in passing]
    if failing and all(s.doubtful for s in failing):
        caveat += (
            "; every failing step was doubtful (the generator's core was busy), so the "
            "server's own limit may be higher"
        )
    if not passing:
        return f"capacity: below {measured[0].players} players ({criteria}){caveat}"
    best = max(passing, key=lambda s: s.players)
    return (
        f"capacity: {best.players} players ({best.matches} matches) on {args.processes} "
        f"{args.server} process(es) serving {servers.APPLICATIONS[args.app]}, "
        f"core(s) {args.server_cpus}, {route_text(args)} ({criteria}){caveat}"
    )


def route_text(args: argparse.Namespace) -> str:
    """How the players reach the processes, for the output's first and last lines."""
    if args.through == "nginx":
        return f"through nginx (wss, TLS, routed by match) on core(s) {args.nginx_cpus}"
    if args.processes == 1:
        return "direct"
    return "direct, routed by match" if args.route == "match" else "direct, round robin"


def versions(generator: str = "python", through: str = "direct") -> str:
    names = ["django", "channels", "daphne", "channels-redis", "redis", "websockets", "msgspec"]
    # daphne's WebSocket stack is not pinned by daphne; its versions move its figures.
    names += ["twisted", "autobahn", "uvicorn", "uvloop"]
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    python = ".".join(map(str, sys.version_info[:3]))
    text = f"CPython {python}; " + ", ".join(found)
    if generator == "node":
        text += f"; generator: {workers.node_versions()}"
    if through == "nginx":
        from deploy import cluster

        text += f"; {nginx_version(cluster.nginx_binary())}"
    return text


def nginx_version(binary: str) -> str:
    """ "nginx/1.22.1, OpenSSL 3.0.19": nginx's version and the OpenSSL it runs with."""
    lines = subprocess.run([binary, "-V"], capture_output=True, text=True).stderr.splitlines()
    version = lines[0].removeprefix("nginx version: ") if lines else "nginx (unknown)"
    built = next((line for line in lines if line.startswith("built with OpenSSL")), "")
    # "built with OpenSSL 3.0.22 ... (running with OpenSSL 3.0.19 ...)": the running one.
    running = built.partition("running with ")[2] or built.removeprefix("built with ")
    openssl = " ".join(running.split()[:2])
    return f"{version}, {openssl}" if openssl else version


def step_sizes(text: str) -> list[int]:
    """Players per step, rounded up to whole 8-player matches."""
    sizes = [int(part) for part in text.split(",") if part.strip()]
    return [fixtures.SEATS * math.ceil(size / fixtures.SEATS) for size in sizes]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = step_sizes(args.steps)
    if args.generator == "node":
        workers.check_node()  # before any server starts
    # Stopped from outside: still stop the servers and delete the run's Redis keys.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # This script and its generator processes (which inherit it) stay off the server cores.
    os.sched_setaffinity(0, cpus(args.client_cpus))
    args.out.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="arcade-bench-"))
    run = Run(args, directory)
    print(
        f"{args.server} x{args.processes} on core(s) {args.server_cpus}, {route_text(args)}; "
        f"{args.generator} "
        f"generator on core(s) {args.client_cpus}; 8-player arena at {TICK_RATE} Hz, inputs "
        f"at {TICK_RATE} Hz, subprotocol {args.subprotocol}; {args.warmup:g} s warm-up, "
        f"{args.seconds:g} s measured per step\n{versions(args.generator, args.through)}\n"
        f"Redis {args.redis_url}, keys under {run.prefix}*\n"
    )
    steps: list[StepResult] = []
    try:
        with run.started():
            print(HEADER)
            for size in sizes:
                steps.append(run.step(size))
                print_step(steps[-1])
            if args.profile:
                steps.append(run.step(max(sizes), profile_dir=args.out.resolve()))
                print()
                print(HEADER)
                print_step(steps[-1])
    finally:
        _save(args, steps)
        if args.keep:
            print(f"run directory kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print()
    print(capacity_line(steps, args))


def _save(args: argparse.Namespace, steps: list[StepResult]) -> None:
    if not steps:
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    app = "" if args.app == "game" else f"{args.app}-"
    how = "-nginx" if args.through == "nginx" else "-match" if args.route == "match" else ""
    target = args.out / f"load-{app}{args.server}-x{args.processes}{how}-{stamp}.json"
    arguments = {k: str(v) for k, v in vars(args).items()}
    payload = {
        "arguments": arguments,
        "versions": versions(args.generator, args.through),
        "steps": [asdict(s) for s in steps],
    }
    target.write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nresults: {target}")


if __name__ == "__main__":
    main()
