"""The browser client's library: its unit tests (Node's test runner) and its game constants."""

import json
import re
import shutil
import subprocess

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
