"""The browser client's library: its unit tests (Node's test runner) and its game constants."""

import json
import math
import os
import random
import re
import shutil
import subprocess

import msgspec
import pytest

from games.engine import arena, arena_wire
from tests.e2e.servers import ROOT
from tests.engine.test_arena_wire import RATE, play

ARENA_FRAMES = ROOT / "tests/js/fixtures/arena_frames.json"


def arena_frames() -> list[dict]:
    """Compact frames of a seeded 8-player match as a client gets them (a full one, then
    deltas from states 1 to 3 ticks old), each with the view it must decode to."""
    snaps = [arena_wire.snapshot(view) for view, _ in play(30)]
    frames, decoded = [], {}
    for index, snap in enumerate(snaps):
        base = snaps[max(0, index - 1 - index % 3)] if index else None
        raw = arena_wire.encode(snap, [], base)
        state, _ = arena_wire.decode(raw, decoded.get(base.tick) if base else None, RATE)
        decoded[state.tick] = state
        frames.append({"hex": raw.hex(), "view": arena_wire.view(state, RATE)})
    return frames


def test_the_browser_decoder_fixture_is_what_the_server_encodes_today():
    """tests/js/arena_wire.test.mjs decodes these frames; they must not go stale.

    Regenerate with: python -c "from tests.test_client_js import write_fixture; write_fixture()"
    """
    assert json.loads(ARENA_FRAMES.read_text()) == arena_frames()


def write_fixture() -> None:
    ARENA_FRAMES.write_text(json.dumps(arena_frames(), indent=0) + "\n")


def test_client_library_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the client's unit tests (apt-get install nodejs)")
    result = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


def test_the_client_predicts_with_the_servers_arena_constants():
    source = (ROOT / "frontend/static/frontend/js/games/arena.js").read_text()
    constants = dict(re.findall(r"export const (\w+) = ([\d.]+);", source))
    assert float(constants["WIDTH"]) == arena.WIDTH
    assert float(constants["HEIGHT"]) == arena.HEIGHT
    assert float(constants["SHIP_RADIUS"]) == arena.SHIP_RADIUS
    assert float(constants["SHIP_SPEED"]) == arena.SHIP_SPEED
    assert float(constants["MAX_HP"]) == arena.MAX_HP  # the HP bars' segments


def arena_contract_cases(cases: int = 60, ticks: int = 80, seed: int = 13) -> list[dict]:
    """Random input sequences for one ship, stepped by the engine: the start, each tick's
    input as the server validated it (None: no new input, the last controls repeat, or
    nothing moves for inputs of ticks of movement, as the browser sends in every other
    case) and where the engine put the ship after that tick."""
    rng = random.Random(seed)
    game = arena.Arena()
    out = []
    for case in range(cases):
        state = game.initial_state(game.defaults(), 2, seed + case)
        ship = state.ships[0]
        # Anywhere in the field, a tenth of them against a wall or in a corner.
        low, high_x, high_y = (
            arena.SHIP_RADIUS,
            arena.WIDTH - arena.SHIP_RADIUS,
            arena.HEIGHT - arena.SHIP_RADIUS,
        )
        ship.x = rng.choice([low, high_x]) if rng.random() < 0.1 else rng.uniform(low, high_x)
        ship.y = rng.choice([low, high_y]) if rng.random() < 0.1 else rng.uniform(low, high_y)
        start = {"x": ship.x, "y": ship.y, "aim": ship.aim}
        movement = case % 2  # `ticks` 1: each input is one tick of movement (the browser's)
        steps = []
        for seq in range(1, ticks + 1):
            if rng.random() < 0.15:
                steps.append({"input": None})  # no input arrived for this tick
                game.tick(state)
                steps[-1]["expected"] = [ship.x, ship.y, ship.aim]
                continue
            kind = rng.random()
            if kind < 0.3:  # keys: -1, 0 or 1 per axis (diagonals longer than 1)
                mx, my = float(rng.choice([-1, 0, 1])), float(rng.choice([-1, 0, 1]))
            elif kind < 0.8:  # a part of a tick's movement, rounded as the client sends it
                mx, my = round(rng.uniform(-1, 1), 4), round(rng.uniform(-1, 1), 4)
            else:  # any value the server accepts
                mx, my = rng.uniform(-1, 1), rng.uniform(-1, 1)
            aim = round(rng.uniform(0, math.tau), 3)
            raw = {"seq": seq, "mx": mx, "my": my, "aim": aim, "ticks": movement}
            data = msgspec.convert(raw, arena.ArenaInput)
            game.apply_input(state, 0, data)
            game.tick(state)
            sent = {"seq": seq, "mx": data.mx, "my": data.my, "aim": data.aim, "fire": False}
            sent["ticks"] = data.ticks
            steps.append({"input": sent, "expected": [ship.x, ship.y, ship.aim]})
        out.append({"dt": 1 / state.tick_rate, "start": start, "steps": steps})
    return out


def test_the_clients_arena_step_moves_ships_exactly_as_the_engine(tmp_path):
    """The determinism contract: tests/js/arena_contract.test.mjs steps `moveShip` over
    the engine's random input sequences and must land on the engine's positions."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the client's unit tests (apt-get install nodejs)")
    cases = tmp_path / "arena_contract.json"
    cases.write_text(json.dumps(arena_contract_cases()))
    result = subprocess.run(
        [node, "--test", "tests/js/arena_contract.test.mjs"],
        cwd=ROOT,
        env={**os.environ, "ARENA_CONTRACT_CASES": str(cases)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 1" in result.stdout and "# skipped 0" in result.stdout, result.stdout
