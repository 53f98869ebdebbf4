"""The load benchmark's generators, driven by bench/load.py against real server processes.

A tiny run (two matches, a two-second window) through the whole benchmark:
migrations, the players and tickets made by the services, a real server
process, the generator's players, and the JSON it writes. The figures are not
checked for speed (the machine is shared), only for being measurements: every
player in a running match, states delivered, inputs acknowledged with
latencies of the order of a tick, and the generator's own CPU reported.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench import load, loadgen, servers, workers
from games.engine import arena_wire
from tests.engine.test_arena_wire import play
from tests.test_client_js import arena_frames

ROOT = Path(__file__).resolve().parent.parent
PLAYERS = 16  # two 8-player arena matches


@pytest.fixture(scope="session")
def node_generator() -> None:
    """The Node.js generator's dependencies, installed from its lock file if missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            raise RuntimeError("the Node.js load generator needs node and npm")
        pytest.skip("node and npm are not installed")
    if not (workers.NODE_DIR / "node_modules" / "ws").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=workers.NODE_DIR, check=True, timeout=120
        )


def run_benchmark(tmp_path: Path, redis_url: str, *arguments: str) -> dict:
    """One step of PLAYERS through bench/load.py; the JSON it wrote."""
    cores = sorted(os.sched_getaffinity(0))
    out = tmp_path / "results"
    command = [sys.executable, "bench/load.py", "--steps", str(PLAYERS), "--seconds", "2"]
    command += ["--warmup", "1", "--redis-url", redis_url, "--out", str(out)]
    command += ["--server-cpus", str(cores[0]), "--client-cpus", str(cores[-1]), *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = out.glob("load-*.json")
    return json.loads(result.read_text())


def check_measurements(step: dict) -> None:
    assert step["players"] == step["active"] == PLAYERS, step["failures"]
    assert not step["errors"] and not step["closes"]
    # One state per tick per player. The machine is shared: a busy core delays some.
    assert step["delivered"] > 0.5, step
    # 20 inputs a second per player: sent, or counted as skipped when the generator fell a
    # whole input period behind; almost all acknowledged within a tick or so.
    scheduled = PLAYERS * 20 * step["seconds"]
    assert step["inputs"] + step["skipped_sends"] > scheduled * 0.8, step
    assert step["inputs"] > scheduled * 0.5, step
    assert step["unacked"] < step["inputs"] * 0.05, step
    assert 0 < step["p50_ms"] < 500 and math.isfinite(step["p99_ms"])
    assert step["generator_cpu_percent"] > 0
    assert 0 < step["generator_core_percent"] <= 100 + 5  # /proc's ticks are coarse
    assert isinstance(step["doubtful"], list)


@pytest.mark.slow
def test_node_generator_measures_the_game_under_daphne(tmp_path, redis_url, node_generator):
    run = run_benchmark(tmp_path, redis_url, "--generator", "node", "--server", "daphne")
    (step,) = run["steps"]
    check_measurements(step)
    assert "generator: node" in run["versions"]


@pytest.mark.slow
def test_node_generator_measures_the_floor_under_uvicorn(tmp_path, redis_url, node_generator):
    run = run_benchmark(
        tmp_path, redis_url, "--generator", "node", "--server", "uvicorn", "--app", "floor"
    )
    check_measurements(run["steps"][0])


@pytest.mark.slow
def test_python_generator_measures_the_same_way(tmp_path, redis_url):
    run = run_benchmark(tmp_path, redis_url, "--generator", "python", "--server", "uvicorn")
    check_measurements(run["steps"][0])


def compact_frames() -> list[tuple[bytes, list[int]]]:
    """Compact frames of a seeded match in the order a client gets them, each with every
    seat's ack: the browser decoder's fixture (a full frame, then deltas from states 1 to 3
    ticks old), then a full frame and a delta in which every ship changed everything and
    its ack jumped further than a step holds."""
    frames = [
        (bytes.fromhex(f["hex"]), [ship["ack"] for ship in f["view"]["ships"]])
        for f in arena_frames()
    ]
    (view, _), *_ = play(1)
    base = arena_wire.snapshot(view)
    changed = replace(
        base,
        tick=base.tick + 1,
        ships=tuple(
            replace(
                s,
                x=s.x + 1,
                y=s.y - 1,
                aim=-s.aim,
                hp=s.hp - 1,
                score=300,
                status=0,
                ack=s.ack + 999,
            )
            for s in base.ships
        ),
    )
    for snapshot, against in ((base, None), (changed, base)):
        frames.append((arena_wire.encode(snapshot, [], against), [s.ack for s in snapshot.ships]))
    return frames


def test_the_python_generator_reads_the_own_acks_of_compact_frames():
    frames = compact_frames()
    for seat in range(8):
        acks: dict[int, int] = {}
        for raw, expected in frames:
            tick, ack, delta = loadgen.compact_state(raw, seat, acks)
            acks[tick] = ack
            assert (ack, delta) == (expected[seat], raw[0] == arena_wire.DELTA)


def test_the_node_generator_reads_the_own_acks_of_compact_frames(node_generator):
    frames = compact_frames()
    script = """
import { decodeCompactState } from "./bench/node/loadgen.mjs";
const frames = JSON.parse(process.argv[1]);
const out = [];
for (let seat = 0; seat < 8; seat++) {
  const acks = new Map();
  out.push(frames.map((hex) => {
    const frame = decodeCompactState(Buffer.from(hex, "hex"), seat, acks);
    acks.set(frame.tick, frame.ack);
    return [frame.ack, frame.delta];
  }));
}
console.log(JSON.stringify(out));
"""
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps([raw.hex() for raw, _ in frames])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    for seat in range(8):
        assert seen[seat] == [[acks[seat], raw[0] == arena_wire.DELTA] for raw, acks in frames]


@pytest.mark.slow
def test_node_generator_measures_compact_players_with_deltas(tmp_path, redis_url, node_generator):
    run = run_benchmark(
        tmp_path, redis_url, "--generator", "node", "--subprotocol", "arcade.v1.compact"
    )
    (step,) = run["steps"]
    check_measurements(step)
    # The players acknowledge what they get, so the server sends them deltas.
    assert step["delta_states"] > step["delivered"] * PLAYERS * 20 * step["seconds"] * 0.5, step


@pytest.fixture(scope="session")
def nginx() -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            raise RuntimeError("the benchmark through nginx needs nginx")
        pytest.skip("nginx is not installed")


def states_over_redis(step: dict) -> float:
    """States published for another process's sockets, per state handed to a socket."""
    assert step["states_handed_per_tick"] > 0, step
    return step["states_over_redis_per_tick"] / step["states_handed_per_tick"]


@pytest.mark.slow
def test_routed_by_match_no_state_crosses_redis(tmp_path, redis_url, node_generator):
    run = run_benchmark(tmp_path, redis_url, "--processes", "2", "--route", "match")
    (step,) = run["steps"]
    check_measurements(step)
    # Every socket of a match on its runner's process: nothing to publish for another.
    assert states_over_redis(step) < 0.01, step
    assert sum(step["runners_per_process"]) == PLAYERS // 8


@pytest.mark.slow
def test_round_robin_splits_every_match_across_the_processes(tmp_path, redis_url, node_generator):
    run = run_benchmark(tmp_path, redis_url, "--processes", "2")
    (step,) = run["steps"]
    check_measurements(step)
    # Half of each match's sockets elsewhere: one publish per match and tick, against 8 states.
    assert states_over_redis(step) > 0.08, step


@pytest.mark.slow
def test_through_nginx_players_play_over_tls_routed_by_match(
    tmp_path, redis_url, node_generator, nginx
):
    run = run_benchmark(tmp_path, redis_url, "--processes", "2", "--through", "nginx")
    (step,) = run["steps"]
    check_measurements(step)
    assert run["arguments"]["route"] == "match"
    assert "nginx/" in run["versions"] and "OpenSSL" in run["versions"]
    assert step["nginx_cpu_percent"] > 0
    # deploy/nginx/arcade.conf hashes the match id: the states stay in their process.
    assert states_over_redis(step) < 0.01, step


@pytest.mark.slow
def test_the_python_generator_trusts_the_proxys_test_ca(tmp_path, redis_url, nginx):
    run = run_benchmark(
        tmp_path, redis_url, "--generator", "python", "--through", "nginx", "--server", "uvicorn"
    )
    check_measurements(run["steps"][0])


def test_a_match_goes_to_one_process_and_the_matches_spread_evenly():
    ring = servers.MatchRing(2)
    ids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(2000)]
    homes = [ring.index(match_id) for match_id in ids]
    assert homes == [ring.index(match_id) for match_id in ids]  # the same every time
    assert 0.45 < homes.count(0) / len(ids) < 0.55
    # Consistent: a third process takes about a third, and only from the others.
    grown = [servers.MatchRing(3).index(match_id) for match_id in ids]
    moved = [(a, b) for a, b in zip(homes, grown, strict=True) if a != b]
    assert all(b == 2 for _, b in moved)
    assert 0.28 < len(moved) / len(ids) < 0.39


def test_a_step_is_doubtful_when_the_generators_core_is_above_85_percent():
    assert load.doubts(84.0, 0) == []
    (reason,) = load.doubts(86.0, 0)
    assert "86 %" in reason
    (reason,) = load.doubts(50.0, 12)
    assert "skipped 12 inputs" in reason
