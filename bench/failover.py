"""Failover benchmark: how long the players of a match see nothing when its process is killed.

    .venv/bin/python bench/failover.py --kills 10

Three daphne processes share Redis and one database, as a cluster does. Per
kill: a fresh two-player arena match; the first player connects to process
K (so K runs the match), the second to another process S; both are ready and
states flow. Then K gets SIGKILL, and the second player, whose own socket
stays open, waits for states again. The pause is the time from the kill to
the first state S hands the second player after another process adopted the
match; the gap is the longest time between two states around the kill, as the
player sees it. K is started again before the next kill, so three processes
run at every kill, and each kill takes the next process in turn.

A surviving process with a socket of the match sees at its watchdog's looks
(every MATCH_WATCHDOG_SECONDS) that the killed process's connection to Redis
is gone and takes its lease over (docs/architecture.md, "Ownership, failover
and drain"); when Redis cannot tell, the lease has to run out first
(MATCH_LEASE_SECONDS). Pass server settings through the environment
(`MATCH_WATCHDOG_SECONDS=1 bench/failover.py`) to see what they change;
bench/lease_under_load.py measures the other side, that a slow process keeps
its leases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fixtures, servers

JSON = "arcade.v1.json"
# Ticks the second player sees the match move on before the kill: the match is in play
# (past any start countdown, whose states hold the tick), as a failover mid-game is.
SETTLE_TICKS = 20
RESUME_TIMEOUT = 30.0  # a pause this long is reported as lost, not waited for
# The adopter's warning when it took the lease of a process seen dead (games/runtime/runners.py).
TAKEN_OVER = "before its lease ran out"


@dataclass
class Kill:
    number: int
    killed_port: int
    survivor_port: int
    pause_s: float  # kill → first state after the adoption (inf: never within RESUME_TIMEOUT)
    gap_s: float  # the longest time between two states the second player saw around the kill
    taken_over: bool  # the survivor saw the process dead, rather than waiting out its lease


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    return parser.parse_args(argv)


def environment(directory: Path, redis_url: str, prefix: str) -> dict[str, str]:
    """The load benchmark's server settings; MATCH_* and PRESENCE_* settings pass through
    from this process's environment."""
    passed = {k: v for k, v in os.environ.items() if k.startswith(("MATCH_", "PRESENCE_"))}
    return {**servers.environment(directory, redis_url, prefix), **passed}


async def open_seat(port: int, user_id: int, match_id: str) -> ClientConnection:
    ticket = await asyncio.to_thread(fixtures.ticket, user_id, match_id)
    path = f"/ws/match/{match_id}/?ticket={ticket}"
    ws = await connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        subprotocols=[JSON],  # type: ignore[list-item]
    )
    await frame_of(ws, "welcome", timeout=15)
    await ws.send(json.dumps({"type": "ready"}))
    return ws


async def frame_of(ws: ClientConnection, kind: str, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame


async def one_kill(number: int, procs: list[servers.ServerProcess], env: dict[str, str]) -> Kill:
    killed = procs[number % len(procs)]
    survivor = procs[(number + 1) % len(procs)]
    first, second = await asyncio.to_thread(fixtures.create_players, 2)
    (match,) = await asyncio.to_thread(fixtures.create_matches, [first, second], 2)
    runner_side = await open_seat(killed.port, match.user_ids[0], match.id)
    watcher = await open_seat(survivor.port, match.user_ids[1], match.id)
    survivor.new_log_lines()  # only what it logs about this kill counts
    try:
        start_tick = (await frame_of(watcher, "state", timeout=15))["tick"]
        while (await frame_of(watcher, "state", timeout=15))["tick"] < start_tick + SETTLE_TICKS:
            pass
        last = time.monotonic()
        killed.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        gap, adopted, pause = 0.0, False, float("inf")
        deadline = killed_at + RESUME_TIMEOUT
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    frame = json.loads(await watcher.recv())
            except TimeoutError:
                break
            now = time.monotonic()
            if frame.get("type") == "welcome":  # the adopting runner greets every socket again
                adopted = True
            elif frame.get("type") == "state":
                gap = max(gap, now - last)
                last = now
                if adopted:
                    pause = now - killed_at
                    break
        gap = max(gap, time.monotonic() - last)
        taken_over = any(TAKEN_OVER in line for line in survivor.new_log_lines())
        return Kill(number, killed.port, survivor.port, pause, gap, taken_over)
    finally:
        for ws in (runner_side, watcher):
            await ws.close()
        await asyncio.to_thread(fixtures.abort_matches, [match])
        killed.process.wait()
        procs[procs.index(killed)] = servers.start_server(
            "daphne", env, {0, 1}, Path(env["STATIC_ROOT"]).parent, []
        )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, env: dict[str, str]) -> list[Kill]:
    procs = [
        servers.start_server("daphne", env, {0, 1}, Path(env["STATIC_ROOT"]).parent, [])
        for _ in range(args.processes)
    ]
    kills = []
    try:
        for number in range(args.kills):
            kill = await one_kill(number, procs, env)
            print(
                f"kill {kill.number + 1:2d}: process :{kill.killed_port} killed, "
                f"player on :{kill.survivor_port} saw states again after "
                f"{kill.pause_s:.2f} s (longest gap {kill.gap_s:.2f} s; "
                f"{'seen dead' if kill.taken_over else 'lease waited out'})",
                flush=True,
            )
            kills.append(kill)
    finally:
        for proc in procs:
            servers.stop_server(proc)
    return kills


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="arcade-failover-"))
    prefix = f"arcade-failover-{secrets.token_hex(6)}"
    env = environment(directory, args.redis_url, prefix)
    servers.manage(env, "migrate", "--noinput")
    fixtures.setup_django(env)
    client = redis.Redis.from_url(args.redis_url, socket_timeout=10)
    lease = env.get("MATCH_LEASE_SECONDS", "3.0 (default)")
    print(f"{args.processes} daphne processes on Redis, lease {lease} s, {args.kills} kills")
    try:
        kills = asyncio.run(run(args, env))
    finally:
        servers.delete_keys(client, prefix)
    pauses = [k.pause_s for k in kills]
    print(
        f"pause from the kill to states again: p50 {percentile(pauses, 0.5):.2f} s, "
        f"p95 {percentile(pauses, 0.95):.2f} s, max {max(pauses):.2f} s over {len(kills)} kills"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"failover-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"lease_seconds": lease, "kills": [k.__dict__ for k in kills]}))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
