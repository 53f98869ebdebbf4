"""The screenshots of the README and docs/: the lobby, a Connect Four match, an arena match,
the result screen, the arena on a phone held sideways, and a replay.

Starts a daphne of its own on a fresh SQLite database (one process with the in-memory
channel layer: no Redis needed), plays the matches in Debian's headless Chromium through
Playwright as people would (guests pressing "Play now" and "Play vs computer"), and
writes docs/images/<name>.png. It takes about a minute.

    .venv/bin/python tools/screenshots.py                  # every screenshot
    .venv/bin/python tools/screenshots.py --only replay    # some of them (the matches they
                                                           # need are played regardless)
    .venv/bin/python tools/screenshots.py --out /tmp/shots
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.test_phone import LANDSCAPE, PHONE  # noqa: E402
from tests.browser.test_play_alone import play_vs_computer  # noqa: E402
from tests.browser.test_play_in_browser import both_play_now, c4_state  # noqa: E402
from tests.browser.test_watch import move  # noqa: E402
from tests.e2e.servers import daphne, prepare, production_env  # noqa: E402

NAMES = ("lobby", "connect-four", "arena", "result-screen", "phone-arena", "replay")
DESKTOP = {"width": 1280, "height": 800}
# The lobby down to its lists of open and live matches.
LOBBY = {"width": 1280, "height": 1100}
# The phone of the phone tests (a Pixel 7), held sideways.
PHONE_ON_ITS_SIDE = {**PHONE, "viewport": LANDSCAPE}
# The opener takes the bottom row from column 2 to 5 while the other blocks too late:
# O3 X3 O2 X2 O4 X1 O5. The Connect Four screenshot is taken before the fifth disc.
COLUMNS = (3, 3, 2, 2, 4, 1, 5)
SHOWN_AT_MOVE = 4
# What the arena screenshots wait for: ships that moved and shots in flight, a hit taken.
ACTION = """() => {
  const latest = window.__arcade?.view?.buffer?.latest();
  return latest && latest.state.bullets.length >= 2 && latest.state.ships.some((s) => s.hp < 3);
}"""


class Shooter:
    """Writes the screenshots asked for into one folder."""

    def __init__(self, out: Path, only: set[str]) -> None:
        self.out, self.only = out, only
        out.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> None:
        if name in self.only:
            page.screenshot(path=str(self.out / f"{name}.png"))
            print(f"{self.out / name}.png")


@contextmanager
def site() -> Iterator[str]:
    """A daphne on a fresh database in a folder of its own; its base URL."""
    with tempfile.TemporaryDirectory(prefix="screenshots-") as folder:
        env = production_env(
            Path(folder),
            # Plain HTTP on loopback: the session and CSRF cookies must travel over it.
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
        )
        prepare(env)
        with daphne(env) as port:
            yield f"http://127.0.0.1:{port}"


def open_page(browser: Browser, base: str, **options: Any) -> Page:
    options.setdefault("viewport", DESKTOP)
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(20_000)
    page.goto(base + "/")
    return page


def become_guest(page: Page) -> None:
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")


def wait_for_action(page: Page) -> None:
    """Let the bots fight until something is worth seeing; a quiet field after 15 s will do."""
    try:
        page.wait_for_function(ACTION, timeout=15_000)
    except PlaywrightTimeout:
        print("the arena stayed quiet; taking it as it is", file=sys.stderr)


def connect_four(browser: Browser, base: str, shoot: Shooter) -> None:
    """Two guests meet through "Play now"; a third opens the lobby while they play; the
    match goes to a win; then the replay, stepped to the move the match was shown at."""
    alice, bob = open_page(browser, base), open_page(browser, base)
    match_id = both_play_now(alice, bob, "connect_four")
    for count, column in enumerate(COLUMNS[:SHOWN_AT_MOVE]):
        move([alice, bob], count, column)
    alice.wait_for_function(f"() => window.__arcade.view.debug().state.moves === {SHOWN_AT_MOVE}")

    carol = open_page(browser, base, viewport=LOBBY)
    become_guest(carol)
    carol.locator(f'[data-live="connect_four"] li[data-match="{match_id}"]').wait_for()
    shoot(carol, "lobby")
    # The board from the side of the player to move: "Your turn" in the HUD.
    to_move = c4_state(alice)["state"]["to_move"]
    shoot(alice if c4_state(alice)["mySeat"] == to_move else bob, "connect-four")

    for count, column in enumerate(COLUMNS[SHOWN_AT_MOVE:], SHOWN_AT_MOVE):
        move([alice, bob], count, column)
    for page in (alice, bob):
        page.locator("#result").wait_for(state="visible")
    winner = alice if alice.locator("#result-title").inner_text() == "You won!" else bob
    shoot(winner, "result-screen")

    winner.get_by_role("link", name="Watch replay").click()
    winner.wait_for_url(f"**/replay/{match_id}/")
    winner.wait_for_function("() => window.__replay")
    for count in range(1, SHOWN_AT_MOVE + 2):
        winner.get_by_role("button", name="Next move").click()
        winner.wait_for_function(f"() => window.__replay.state.moves === {count}")
    winner.wait_for_function("() => window.__replay.falling === null")  # the disc has landed
    shoot(winner, "replay")
    for page in (alice, bob, carol):
        page.context.close()


def arena(browser: Browser, base: str, shoot: Shooter) -> None:
    """A guest against the computer's ships, on a desktop and on a phone held sideways."""
    for name, options in (("arena", {}), ("phone-arena", PHONE_ON_ITS_SIDE)):
        if name not in shoot.only:
            continue
        page = open_page(browser, base, **options)
        play_vs_computer(page, "arena", "hard")
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 3")
        wait_for_action(page)
        shoot(page, name)
        page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    args = parser.parse_args()
    shoot = Shooter(args.out, set(args.only))
    with site() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if shoot.only & {"lobby", "connect-four", "result-screen", "replay"}:
                connect_four(browser, base, shoot)
            arena(browser, base, shoot)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
