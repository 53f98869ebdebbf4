"""`make cluster`: the production layout on one machine, from the files in deploy/.

nginx (deploy/nginx/arcade.conf, with a test certificate from trustme) in front of
several daphne processes started with the command line of
deploy/systemd/arcade@.service, on the environment of deploy/arcade.env.example,
sharing the machine's Redis (under a key prefix of the cluster's own) and its
PostgreSQL (a database of the cluster's own, created if missing; a SQLite file
when PostgreSQL is unreachable). It migrates, prints the https:// address, and
stops everything it started on Ctrl-C (SIGINT) or SIGTERM. SIGHUP restarts the
daphne instances one after the other, as a deploy would.

    python deploy/cluster.py [--instances N] [--workdir DIR] [--database NAME]

What it started is written to <workdir>/cluster.json (ports, process ids, the CA
certificate to trust), for tests and for curl --cacert.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
UNIT = DEPLOY / "systemd" / "arcade@.service"
SITE = DEPLOY / "nginx" / "arcade.conf"
PROXY = DEPLOY / "nginx" / "arcade-proxy.conf"
ENV_EXAMPLE = DEPLOY / "arcade.env.example"
INSTALLED_ROOT = "/srv/arcade"  # where the unit and the site expect the project
POSTGRES = os.environ.get("CLUSTER_POSTGRES_URL", "postgres://postgres:postgres@127.0.0.1:5432")
REDIS = os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/0")
FOREGROUND = ["-g", "daemon off;"]  # a child of the cluster, stopped with it
STOP_SECONDS = 30  # the unit's TimeoutStopSec: a draining process gets as long

# Run as a script (python deploy/cluster.py): the project's root is not on the path yet.
sys.path.insert(0, str(ROOT))
from deploy.wait_ready import wait_ready  # noqa: E402


def free_ports(count: int) -> list[int]:
    """Distinct free ports: each socket stays bound until all are chosen."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- The files of deploy/, adapted to this machine ---------------------------------------


def unit_command(port: int, unit: Path = UNIT) -> list[str]:
    """The unit's ExecStart for instance `port`, with this checkout's Python."""
    text = unit.read_text().replace("\\\n", " ")
    line = next(raw for raw in text.splitlines() if raw.startswith("ExecStart="))
    command = shlex.split(line.removeprefix("ExecStart=").replace("%i", str(port)))
    assert command[0] == f"{INSTALLED_ROOT}/.venv/bin/python", command
    return [sys.executable, *command[1:]]


def example_environment(example: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The variables the example sets (its uncommented lines)."""
    values = {}
    for raw in example.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is no longer in the nginx site"
    return text.replace(old, new)


def render_site(
    ports: list[int],
    https_port: int,
    http_port: int,
    certificate: Path,
    key: Path,
    static_root: Path,
    work: Path,
    site: Path = SITE,
) -> str:
    """deploy/nginx/arcade.conf with this machine's ports, certificate and paths."""
    text = site.read_text()

    def servers(block: re.Match[str]) -> str:
        # One line per instance, with the options of the site's own lines.
        options = re.match(r"    server 127\.0\.0\.1:\d+ ([^\n]*)\n", block[0])
        assert options is not None
        return "".join(f"    server 127.0.0.1:{port} {options[1]}\n" for port in ports)

    text, count = re.subn(r"(?m)(^    server 127\.0\.0\.1:\d+ [^\n]*\n)+", servers, text)
    assert count == 2, "both upstreams list the instances"
    for listen, port in (("443 ssl", https_port), ("80", http_port)):
        ours = listen.replace(listen.split()[0], f"127.0.0.1:{port}")
        text = _replace(text, f"listen {listen} default_server;", f"listen {ours};")
        text = _replace(text, f"    listen [::]:{listen} default_server;\n", "")
    text = _replace(text, "/etc/letsencrypt/live/game.example.com/fullchain.pem", str(certificate))
    text = _replace(text, "/etc/letsencrypt/live/game.example.com/privkey.pem", str(key))
    text = _replace(text, f"{INSTALLED_ROOT}/staticfiles/", f"{static_root}/")
    text = _replace(text, "/var/log/nginx/", f"{work}/")
    return _replace(text, "/etc/nginx/arcade-proxy.conf", str(PROXY))


def nginx_conf(work: Path, site: Path) -> str:
    """A main configuration of the cluster's own: everything under `work`, in the foreground."""
    temp = work / "nginx-temp"
    temp.mkdir(exist_ok=True)
    # Debian's nginx runs its workers as www-data; started by root here, they would
    # run as nobody and could not read files under a private temporary directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    paths = "".join(
        f"    {kind}_temp_path {temp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'nginx-error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"{paths}    include {site};\n}}\n"
    )


# Where Debian's package puts nginx, off a user's PATH.
DEBIAN_NGINX = Path("/usr/sbin/nginx")


def nginx_binary() -> str:
    return shutil.which("nginx") or str(DEBIAN_NGINX)


def ensure_nginx() -> None:
    """Install Debian's nginx if it is missing, as .ci/run installs its packages; without
    apt-get or root, say in one line what to install instead of failing later."""
    if shutil.which("nginx") or DEBIAN_NGINX.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        sys.exit(
            "make cluster needs nginx: install it (Debian: sudo apt-get install nginx), "
            "then run make cluster again."
        )
    print("nginx is missing: installing Debian's package ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], env=env, check=True, timeout=600)
    subprocess.run([apt, "install", "-y", "-qq", "nginx"], env=env, check=True, timeout=600)


def check_nginx(conf: Path, work: Path) -> subprocess.CompletedProcess[str]:
    command = [nginx_binary(), "-t", "-e", str(work / "nginx-error.log"), "-c", str(conf)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


# --- Services ------------------------------------------------------------------------------


def postgres_database(name: str) -> str | None:
    """The URL of database `name` on the machine's PostgreSQL (created if missing), or None."""
    try:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as error:
        print(f"PostgreSQL is unreachable at {POSTGRES} ({error}): using SQLite instead.")
        return None
    return f"{POSTGRES}/{name}"


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise SystemExit(f"Redis is unreachable at {url} ({error}); start it first.") from error


def forget_redis_keys(url: str, prefix: str) -> None:
    """The cluster's own keys only: the machine's Redis may serve others."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    with suppress(redis.RedisError):
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


def certificate(work: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for localhost and 127.0.0.1: (CA, chain, key)."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    paths = work / "ca.pem", work / "cert.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    paths[1].write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(paths[2]))
    return paths


# --- The cluster ---------------------------------------------------------------------------


@dataclass
class Instance:
    port: int
    metrics_port: int
    pid: int
    log: str


@dataclass
class Cluster:
    work: Path
    address: str
    https_port: int
    http_port: int
    ca: str
    database: str
    redis_prefix: str
    instances: list[Instance] = field(default_factory=list)
    nginx_pid: int = 0
    restarts: int = 0  # rolling restarts done (SIGHUP)
    restart: Callable[[], None] = field(default=lambda: None, repr=False)

    def save(self) -> None:
        """Write cluster.json whole, then rename it: a reader sees the old or the new."""
        described = {**asdict(self), "work": str(self.work)}
        del described["restart"]
        temporary = self.work / "cluster.json.new"
        temporary.write_text(json.dumps(described, indent=2))
        temporary.replace(self.work / "cluster.json")


def environment(work: Path, database: str | None, prefix: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **example_environment(),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": database or f"sqlite:///{work / 'db.sqlite3'}",
        "REDIS_URL": REDIS,
        "REDIS_PREFIX": prefix,
        "CHANNEL_LAYER_PREFIX": prefix,
        "STATIC_ROOT": str(work / "static"),
        # A test certificate on a laptop: no year-long HSTS promise for localhost.
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
        "SECURE_HSTS_PRELOAD": "false",
    }
    for name in ("PRESENCE_HEARTBEAT_SECONDS", "PRESENCE_TTL_SECONDS", "MATCH_LEASE_SECONDS"):
        if name in os.environ:  # tests shorten them
            env[name] = os.environ[name]
    return env


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command, "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


@contextmanager
def running(work: Path, instances: int, database_name: str) -> Iterator[Cluster]:
    """Start the cluster, yield it, and stop everything it started on the way out."""
    check_redis(REDIS)
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    database = postgres_database(database_name)
    env = environment(work, database, prefix)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    ca, chain, key = certificate(work)
    https_port, http_port, *ports = free_ports(2 + 2 * instances)
    cluster = Cluster(
        work=work,
        address=f"https://localhost:{https_port}/",
        https_port=https_port,
        http_port=http_port,
        ca=str(ca),
        database=database or env["DATABASE_URL"],
        redis_prefix=prefix,
    )
    processes = Processes(work, env)
    try:
        for port, metrics in zip(ports[::2], ports[1::2], strict=True):
            cluster.instances.append(processes.start_instance(port, metrics))
        for instance in cluster.instances:
            processes.wait_ready(instance)
        site = work / "arcade.conf"
        ports = [instance.port for instance in cluster.instances]
        site.write_text(
            render_site(ports, https_port, http_port, chain, key, work / "static", work)
        )
        conf = work / "nginx.conf"
        conf.write_text(nginx_conf(work, site))
        checked = check_nginx(conf, work)
        if checked.returncode != 0:
            raise SystemExit(f"nginx -t failed:\n{checked.stderr}")
        cluster.nginx_pid = processes.start_nginx(conf)
        if not wait_ready(f"http://127.0.0.1:{http_port}/readyz", 30):
            raise SystemExit(f"nginx did not start: {work / 'nginx-error.log'}")
        cluster.restart = lambda: processes.rolling_restart(cluster)
        cluster.save()
        yield cluster
    finally:
        processes.stop_all()
        forget_redis_keys(REDIS, prefix)


class Processes:
    """The processes the cluster started: daphne instances by port, and nginx."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env
        self.daphne: dict[int, subprocess.Popen[bytes]] = {}
        self.nginx: subprocess.Popen[bytes] | None = None

    def start_instance(self, port: int, metrics: int) -> Instance:
        """The unit's command line, as systemd would run arcade@<port>."""
        log = self.work / f"daphne-{port}.log"
        self.daphne[port] = subprocess.Popen(
            unit_command(port),
            cwd=ROOT,
            env={**self.env, "METRICS_PORT": str(metrics)},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the cluster, which drains them
        )
        return Instance(port, metrics, self.daphne[port].pid, str(log))

    def wait_ready(self, instance: Instance) -> None:
        # The unit's ExecStartPost.
        if not wait_ready(f"http://127.0.0.1:{instance.port}/readyz", 60):
            raise SystemExit(f"daphne on {instance.port} did not get ready: {instance.log}")

    def start_nginx(self, conf: Path) -> int:
        self.nginx = subprocess.Popen(
            [
                nginx_binary(),
                "-c",
                str(conf),
                "-e",
                str(self.work / "nginx-error.log"),
                *FOREGROUND,
            ],
            stdout=(self.work / "nginx.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.nginx.pid

    def rolling_restart(self, cluster: Cluster) -> None:
        """One instance after the other: SIGTERM (it drains), its exit, a new one, ready."""
        for index, instance in enumerate(cluster.instances):
            stop([self.daphne[instance.port]])
            fresh = self.start_instance(instance.port, instance.metrics_port)
            self.wait_ready(fresh)
            cluster.instances[index] = fresh
            print(f"  restarted daphne on {fresh.port} (pid {fresh.pid})", flush=True)
        cluster.restarts += 1
        cluster.save()

    def stop_all(self) -> None:
        stop([*self.daphne.values(), *([self.nginx] if self.nginx else [])])


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (daphne drains, nginx stops), as systemd would; SIGKILL after the bound."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _announce(cluster: Cluster) -> None:
    print(f"Arcade cluster on {cluster.address}  (CA certificate: {cluster.ca})")
    for instance in cluster.instances:
        print(
            f"  daphne on 127.0.0.1:{instance.port} (pid {instance.pid}, metrics on "
            f"{instance.metrics_port}, log {instance.log})"
        )
    print(f"  health: http://127.0.0.1:{cluster.http_port}/readyz; database {cluster.database}")
    print(f"  try: curl --cacert {cluster.ca} {cluster.address}readyz")
    print(f"Ctrl-C stops everything; kill -HUP {os.getpid()} restarts the instances one by one.")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory")
    parser.add_argument("--database", default="arcade_cluster", help="PostgreSQL database name")
    args = parser.parse_args()
    ensure_nginx()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="arcade-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    # Signals arrive as bytes on a pipe: the main thread reads them one by one, with
    # no work in a signal handler (which could interrupt the work it would start).
    readable, writable = os.pipe()
    os.set_blocking(writable, False)
    signal.set_wakeup_fd(writable)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: None)
    with running(work, args.instances, args.database) as cluster:
        _announce(cluster)
        while os.read(readable, 1)[0] == signal.SIGHUP:
            print("Rolling restart (SIGHUP) ...", flush=True)
            cluster.restart()
        print("Stopping the cluster ...", flush=True)
    print(f"Stopped. Logs are in {work}.")


if __name__ == "__main__":
    main()
