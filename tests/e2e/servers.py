"""Start real server processes (daphne, or uvicorn) for end-to-end tests and wait until
they listen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy import cluster

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "e2e-" + "Zq8#vX2$mP9@wL4!nR7&tY1*bH6^cJ3%dF5(gS0)eA" + "x" * 20


def unique_prefix(kind: str) -> str:
    """A Redis key prefix no other test, module or concurrent run of the suite shares."""
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Block until something accepts connections on `port`, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port: there is no event to wait on
    raise TimeoutError(f"the server did not listen on {port} within {timeout} s")


def production_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A production configuration (DEBUG off) on a SQLite file of the test's own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "gameproject.settings",
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp / "static"),
        # Plain HTTP on loopback; the TLS endpoint has tests of its own.
        "SECURE_SSL_REDIRECT": "false",
        # No "3, 2, 1, GO" before the arena's first tick: the tests move ships at once
        # (the countdown's own test passes MATCH_COUNTDOWN_SECONDS).
        "MATCH_COUNTDOWN_SECONDS": "0",
        **extra,
    }


def prepare(env: dict[str, str]) -> None:
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )


# The daphne processes of the running tests by port, for tests that kill one.
RUNNING: dict[int, subprocess.Popen[bytes]] = {}


# The servers the application is supported under; the core end-to-end tests run under both.
SERVERS = ("daphne", "uvicorn")
UVICORN_UNIT = "arcade-uvicorn@.service"


@contextmanager
def daphne(env: dict[str, str], *args: str, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """Run `daphne gameproject.asgi:application` on a free port; yield the port.

    With `tls` (key file, certificate file) daphne serves HTTPS and WSS itself
    through its TLS endpoint.
    """
    with serve(env, *args, tls=tls) as port:
        yield port


@contextmanager
def serve(
    env: dict[str, str],
    *args: str,
    server: str = "daphne",
    tls: tuple[Path, Path] | None = None,
    pings: tuple[float, float] | None = None,
) -> Iterator[int]:
    """Run the application under `server` (daphne or uvicorn) on a free port; yield the port.

    `pings` is (interval, timeout) of the server's WebSocket pings; `args` are the
    server's own further flags. The uvicorn command line is the one deploy/ uses.
    """
    port = free_port()
    log = open(Path(env["STATIC_ROOT"]).parent / f"{server}-{port}.log", "wb")  # noqa: SIM115
    command = _command(server, port, tls, pings)
    process = subprocess.Popen(
        [*command, *args, "gameproject.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    RUNNING[port] = process
    try:
        wait_for_port(port, process)
        yield port
    finally:
        RUNNING.pop(port, None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _command(
    server: str, port: int, tls: tuple[Path, Path] | None, pings: tuple[float, float] | None
) -> list[str]:
    if server == "daphne":
        if tls is None:
            command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        else:
            key, cert = tls
            endpoint = f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
            command = [sys.executable, "-m", "daphne", "-e", endpoint]
        if pings:
            command += ["--ping-interval", str(pings[0]), "--ping-timeout", str(pings[1])]
        return command
    if server == "uvicorn":
        # The command line of deploy/systemd/arcade-uvicorn@.service, on this port.
        command = cluster.unit_command(port, cluster.DEPLOY / "systemd" / UVICORN_UNIT)
        command = command[:-1]  # the application comes last, after the test's own flags
        if tls is not None:
            key, cert = tls
            command += ["--ssl-keyfile", str(key), "--ssl-certfile", str(cert)]
        if pings:
            _set(command, "--ws-ping-interval", str(pings[0]))
            _set(command, "--ws-ping-timeout", str(pings[1]))
        return command
    raise ValueError(f"unknown server {server!r}; supported: {SERVERS}")


def _set(command: list[str], flag: str, value: str) -> None:
    command[command.index(flag) + 1] = value


@contextmanager
def observed(
    tmp: Path,
    redis_url: str,
    kind: str,
    server: str = "daphne",
    pings: tuple[float, float] | None = None,
    **extra: str,
) -> Iterator[dict[str, object]]:
    """One server process on Redis with its metrics port, its keys under a prefix of its own
    (deleted afterwards); yields host, port, metrics port, prefix, tmp and the Redis URL."""
    prefix = unique_prefix(kind)
    metrics_port = free_port()
    env = production_env(
        tmp,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        CHANNEL_LAYER_PREFIX=prefix,
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        METRICS_PORT=str(metrics_port),
        **extra,
    )
    prepare(env)
    try:
        with serve(env, server=server, pings=pings) as port:
            yield {
                "host": f"127.0.0.1:{port}",
                "port": port,
                "metrics": metrics_port,
                "prefix": prefix,
                "tmp": tmp,
                "redis": redis_url,
                "server": server,
            }
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
