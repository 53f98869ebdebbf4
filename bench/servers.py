"""The server side of the load benchmark: server processes, their CPU and memory, Redis, py-spy.

Every server process is started through `taskset` on the server's cores and
listens on a port of its own, the way several processes sit behind a load
balancer. CPU time and memory are read from /proc, so the figures are the
kernel's own accounting of each process (all its threads included).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("games/", "gameproject/", "frontend/")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

APPLICATIONS = {"game": "gameproject.asgi:application", "floor": "bench.floor:application"}
# The daphne flags of `make run` and docs/deployment.md.
DAPHNE_FLAGS = [
    "--ping-interval",
    "20",
    "--ping-timeout",
    "30",
    "--application-close-timeout",
    "10",
    "--websocket_timeout",
    "14400",
]
# uvicorn as `uvicorn[standard]` would run it (uvloop, httptools), on the sans-I/O
# websockets implementation. daphne never accepts permessage-deflate; uvicorn
# would, so it is turned off here to send the same bytes through both servers.
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--ws",
    "websockets-sansio",
    "--ws-per-message-deflate",
    "false",
    "--ws-ping-interval",
    "20",
    "--ws-ping-timeout",
    "30",
    "--lifespan",
    "off",
    "--no-access-log",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(directory: Path, redis_url: str, prefix: str, database: str = "") -> dict[str, str]:
    """Production settings (DEBUG off) for a run's servers, on its own database (a fresh
    SQLite file in `directory` by default) and its own Redis prefix."""
    static = directory / "static"
    static.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "gameproject.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database or f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "CHANNEL_LAYER_PREFIX": f"{prefix}-layer",
        "STATIC_ROOT": str(static),
        # Plain HTTP and WS on loopback: no TLS in front of the servers here.
        "SECURE_SSL_REDIRECT": "false",
        # Every player comes from 127.0.0.1 (the proxy's address too): the cap on
        # sockets per client address would refuse all but the first hundred.
        "MAX_SOCKETS_PER_IP": "0",
        # The benchmarks measure play: no arena start countdown, in which no state moves.
        "MATCH_COUNTDOWN_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


def cpu_list(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command, "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


@dataclass
class ServerProcess:
    """One ASGI server process on one port; its log goes to a file of its own."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int = 0  # the process's /metrics (games.runtime.metrics), 0 for none
    log_offset: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def new_log_lines(self) -> list[str]:
        """Lines the server logged since the last call (warnings such as skipped ticks)."""
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            data = log.read()
        self.log_offset += len(data)
        return data.decode(errors="replace").splitlines()


def start_server(
    kind: str,
    env: dict[str, str],
    cpus: set[int],
    log_dir: Path,
    extra: list[str],
    application: str = APPLICATIONS["game"],
    metrics_port: int = 0,
) -> ServerProcess:
    """Start daphne or uvicorn serving `application` on a free port, pinned to `cpus`."""
    port = free_port()
    if metrics_port:
        env = {**env, "METRICS_PORT": str(metrics_port)}
    if kind == "daphne":
        command = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *DAPHNE_FLAGS]
    elif kind == "uvicorn":
        command = ["-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), *UVICORN_FLAGS]
    else:
        raise ValueError(f"unknown server {kind!r}")
    log_path = log_dir / f"{kind}-{port}.log"
    with open(log_path, "wb") as log:
        # taskset execs the interpreter, so the Popen's pid is the server's own pid.
        process = subprocess.Popen(
            ["taskset", "-c", cpu_list(cpus), sys.executable, *command, *extra, application],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(kind, port, process, log_path, metrics_port)
    _wait_for_port(server.kind, server.process, server.port, server.log_path)
    return server


def _wait_for_port(
    kind: str, process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited with {process.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port: there is no event to wait on
    raise TimeoutError(f"{kind} did not listen on {port} within {timeout} s")


def stop_server(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# --- Routing by match ---------------------------------------------------------------------


class MatchRing:
    """A consistent hash of match ids over the server processes, as nginx's `hash ... consistent`.

    Each process gets `points` places on a ring of 32-bit hashes; a match goes to
    the first place at or after its own hash. That is ketama, the scheme of
    nginx's `hash $arcade_match_id consistent` (deploy/nginx/arcade.conf), though
    not nginx's exact hash function: what the benchmark needs is the same
    property, every socket of a match on one process and the matches spread
    evenly, not the very process nginx would pick.
    """

    def __init__(self, count: int, points: int = 160) -> None:
        ring = sorted(
            (_hash32(f"{index}-{point}"), index)
            for index in range(count)
            for point in range(points)
        )
        self.hashes = [h for h, _ in ring]
        self.indices = [index for _, index in ring]

    def index(self, match_id: str) -> int:
        """The process (0-based) that every socket of `match_id` goes to."""
        at = bisect.bisect_left(self.hashes, _hash32(match_id)) % len(self.hashes)
        return self.indices[at]


def _hash32(text: str) -> int:
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:4], "big")


# --- The match metrics of each process ------------------------------------------------------

# From games.runtime.metrics: states a process handed to its own match sockets, states
# its runners published over Redis for sockets on other processes, and its runners.
STATES_SENT = "arcade_states_sent_total"
STATE_PUBLISHES = "arcade_state_publishes_total"
MATCHES_RUNNING = "arcade_matches_running"
MATCH_METRICS = (STATES_SENT, STATE_PUBLISHES, MATCHES_RUNNING)


def scrape_metrics(port: int, names: tuple[str, ...] = MATCH_METRICS) -> dict[str, float]:
    """The named metrics of one server process's /metrics, each summed over its labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        name = sample.partition("{")[0]
        if name in values:
            values[name] += float(value)
    return values


# --- nginx in front (deploy/nginx/arcade.conf) ----------------------------------------------


@dataclass
class Nginx:
    """The `make cluster` nginx site in front of the server processes, with a test CA."""

    process: subprocess.Popen[bytes]
    https_port: int
    ca: Path
    work: Path

    def pids(self) -> list[int]:
        """The master and its worker (one: the cluster's nginx.conf has worker_processes 1)."""
        return [self.process.pid, *_children(self.process.pid)]


def start_nginx(ports: list[int], cpus: set[int], work: Path) -> Nginx:
    """deploy/cluster.py's rendering of the site, over `ports`, pinned to `cpus` by taskset."""
    from deploy import cluster
    from deploy.wait_ready import wait_ready

    work.mkdir(exist_ok=True)
    ca, chain, key = cluster.certificate(work)
    https_port, http_port = cluster.free_ports(2)
    static = work / "static"
    static.mkdir(exist_ok=True)
    site = work / "arcade.conf"
    site.write_text(cluster.render_site(ports, https_port, http_port, chain, key, static, work))
    conf = work / "nginx.conf"
    conf.write_text(cluster.nginx_conf(work, site))
    checked = cluster.check_nginx(conf, work)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
    log = work / "nginx-error.log"
    command = [cluster.nginx_binary(), "-c", str(conf), "-e", str(log), *cluster.FOREGROUND]
    with open(work / "nginx.out", "wb") as out:
        process = subprocess.Popen(
            ["taskset", "-c", cpu_list(cpus), *command], stdout=out, stderr=subprocess.STDOUT
        )
    _wait_for_port("nginx", process, https_port, log)
    if not wait_ready(f"http://127.0.0.1:{http_port}/readyz", 30):
        stop_nginx(Nginx(process, https_port, ca, work))
        raise RuntimeError(f"nginx did not reach the servers; see {log}")
    return Nginx(process, https_port, ca, work)


def stop_nginx(nginx: Nginx) -> None:
    if nginx.process.poll() is None:
        nginx.process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            nginx.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            nginx.process.kill()
            nginx.process.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


# --- /proc -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds a set of processes had used at a moment (monotonic clock)."""

    at: float
    seconds: dict[int, float]

    @staticmethod
    def take(pids: list[int]) -> CpuSample:
        return CpuSample(time.monotonic(), {pid: cpu_seconds(pid) for pid in pids})

    def percent_since(self, earlier: CpuSample) -> dict[int, float]:
        """Per process, the share of one core used between the two samples, in percent."""
        wall = self.at - earlier.at
        return {
            pid: 100.0 * (used - earlier.seconds.get(pid, 0.0)) / wall
            for pid, used in self.seconds.items()
        }


@dataclass(frozen=True)
class CoreSample:
    """Busy seconds of each core (every process on it, ours or not), from /proc/stat."""

    at: float
    busy: dict[int, float]

    @staticmethod
    def take() -> CoreSample:
        busy = {}
        with open("/proc/stat") as stat:
            for line in stat:
                name, *values = line.split()
                if name.startswith("cpu") and name[3:].isdigit():
                    # user nice system idle iowait irq softirq steal: user, nice, system,
                    # irq and steal. Not softirq: it is mostly the loopback traffic of the
                    # benchmark itself, which the kernel does not charge to a process.
                    user, nice, system, _, _, irq, _, steal = (int(v) for v in values[:8])
                    busy[int(name[3:])] = (user + nice + system + irq + steal) / CLOCK_TICKS
        return CoreSample(time.monotonic(), busy)

    def percent_since(self, earlier: CoreSample, cores: set[int]) -> float:
        """Busy share of `cores` between the two samples, in percent of one core."""
        used = sum(self.busy.get(core, 0.0) - earlier.busy.get(core, 0.0) for core in cores)
        return 100.0 * used / (self.at - earlier.at)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except FileNotFoundError:
        return 0.0
    # The command name (field 2) may contain spaces; fields after it are plain.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except FileNotFoundError:
        pass
    return 0.0


# --- Redis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisSample:
    """Redis's command counters at a moment; the server is shared, so only deltas count."""

    processed: int
    calls: dict[str, int]
    cpu_seconds: float
    net_bytes: int

    @staticmethod
    def take(client: redis.Redis) -> RedisSample:
        # One INFO for all three sections: exactly one command of ours per sample.
        info: dict[str, Any] = client.info("stats", "cpu", "commandstats")
        calls = {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in info.items()
            if name.startswith("cmdstat_")
        }
        used = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        net = int(info["total_net_input_bytes"]) + int(info["total_net_output_bytes"])
        return RedisSample(int(info["total_commands_processed"]), calls, used, net)


@dataclass(frozen=True)
class RedisDelta:
    # Commands executed, those that Lua scripts call included (Redis counts them too).
    commands: int
    calls: Counter[str]  # the same, per command
    cpu_seconds: float
    net_bytes: int  # in and out, our INFO replies included (a few kB)

    @staticmethod
    def between(before: RedisSample, after: RedisSample) -> RedisDelta:
        calls = Counter(
            {
                name: count - before.calls.get(name, 0)
                for name, count in after.calls.items()
                if count > before.calls.get(name, 0)
            }
        )
        # The earlier sample's INFO is counted in the later one; it is ours, not the servers'.
        calls["info"] = max(0, calls["info"] - 1)
        if not calls["info"]:
            del calls["info"]
        return RedisDelta(
            max(0, after.processed - before.processed - 1),
            calls,
            after.cpu_seconds - before.cpu_seconds,
            after.net_bytes - before.net_bytes,
        )


def delete_keys(client: redis.Redis, prefix: str) -> int:
    """Remove every key under this run's prefix (and nothing else: never FLUSHDB)."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.unlink(*batch))
            batch = []
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


# --- py-spy ----------------------------------------------------------------------------


@dataclass
class Profile:
    pid: int
    speedscope: Path
    text: Path
    seconds: float = 0.0  # sampled time in which a thread was not idle
    top_self: list[tuple[str, float]] = field(default_factory=list)
    top_project: list[tuple[str, float]] = field(default_factory=list)


def start_profile(
    server: ServerProcess, seconds: float, out: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    """Sample the server with py-spy for `seconds`, into a speedscope file."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = out / f"profile-{server.kind}-{server.pid}-{stamp}.speedscope.json"
    duration = str(max(1, round(seconds)))
    options = ["--rate", "100", "--format", "speedscope", "--output", str(target)]
    process = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.pid), "--duration", duration, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, target


def summarise_profile(pid: int, speedscope: Path, top: int = 30) -> Profile:
    """Write the functions with the most samples (self and inclusive) next to the profile.

    py-spy writes each stack root first and weighs samples in seconds; idle
    threads are not sampled. Time inside C code (uvloop's loop, for one) shows
    as self time of the Python function that called it.
    """
    data = json.loads(speedscope.read_text())
    # One name per function (py-spy has a frame per line): "name (path)".
    names = [
        f"{frame['name']} ({_short_path(frame.get('file', ''))})"
        for frame in data["shared"]["frames"]
    ]
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if stack:
                total += weight
                own[names[stack[-1]]] += weight
                for name in {names[index] for index in stack}:
                    inclusive[name] += weight

    def table(counts: Counter[str], only: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        rows = [(name, 100.0 * n / max(total, 1e-9)) for name, n in counts.most_common()]
        if only:
            rows = [row for row in rows if row[0].rsplit("(", 1)[-1].startswith(only)]
        return rows[:top]

    summary = Profile(pid, speedscope, speedscope.with_suffix("").with_suffix(".top.txt"), total)
    summary.top_self = table(own)
    summary.top_project = table(inclusive, only=PROJECT_PACKAGES)
    lines = [f"py-spy, pid {pid}: {total:.1f} s of samples in busy threads", ""]
    for title, rows in (
        ("self time", summary.top_self),
        ("inclusive time", table(inclusive)),
        ("inclusive time, project code", summary.top_project),
    ):
        lines += [f"{title} (% of samples):"]
        lines += [f"{share:6.1f}%  {name}" for name, share in rows] + [""]
    summary.text.write_text("\n".join(lines))
    return summary


def _short_path(path: str) -> str:
    """site-packages/x/y.py or games/x.py instead of a full path."""
    match = re.search(r"site-packages/(.*)$", path)
    if match:
        return match.group(1)
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return "/".join(Path(path).parts[-2:])  # the standard library: asyncio/events.py
