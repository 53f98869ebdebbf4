"""How long a person alone waits from opening the site to playing, for each game.

    .venv/bin/python bench/first_play.py --runs 5

Starts a daphne of its own (production settings, a fresh SQLite database, the
in-memory channel layer) and, per run and game, opens the lobby in a new
Chromium context (a first visit: no cookies), presses "Play vs computer" and
waits until the player can act: in Connect Four, the first state in which it
is the player's move (the computer may open); in the arena, the first state
after GO in which the player's own ship is on the field. The time counts from
the start of the navigation to the lobby, so it includes loading the lobby,
the guest session, creating the match, the match page and its socket, and
the arena's 3-2-1 countdown. The click follows the page's load at once; a
person takes a second or two more to find the button.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.servers import daphne, prepare, production_env  # noqa: E402

PLAYING = {
    "connect_four": """() => {
      const d = window.__arcade?.view?.debug();
      return !!(d && d.state && !d.state.finished && d.state.to_move === d.mySeat);
    }""",
    "arena": """() => {
      const d = window.__arcade?.view?.debug();
      return !!(d && d.renderTick > 0 && d.ships.some((s) => s.seat === d.mySeat));
    }""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="first-play-") as tmp_name:
        tmp = Path(tmp_name)
        # Plain HTTP on loopback: the session and CSRF cookies must travel over it.
        env = production_env(tmp, SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
        env.pop("MATCH_COUNTDOWN_SECONDS", None)  # the tests' 0; a person gets the game's own
        prepare(env)
        with daphne(env) as port, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results: dict[str, list[float]] = {game: [] for game in PLAYING}
            for _ in range(args.runs):
                for game, playing in PLAYING.items():
                    context = browser.new_context()
                    page = context.new_page()
                    started = time.monotonic()
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.locator(f'[data-play-computer="{game}"]').click()
                    page.wait_for_url("**/play/*/")
                    page.wait_for_function(playing, timeout=30_000)
                    results[game].append(time.monotonic() - started)
                    context.close()
            browser.close()
    for game, seconds in results.items():
        print(
            f"{game}: median {statistics.median(seconds):.2f} s, "
            f"max {max(seconds):.2f} s over {len(seconds)} runs "
            f"({', '.join(f'{s:.2f}' for s in seconds)})"
        )


if __name__ == "__main__":
    main()
