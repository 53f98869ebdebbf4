"""The browser client's library: its unit tests (Node's test runner) and its game constants."""

import re
import shutil
import subprocess

import pytest

from games.engine import arena
from tests.e2e.servers import ROOT


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
