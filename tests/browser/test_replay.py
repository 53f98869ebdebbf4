"""The replay viewer: the players' names and whose move it is, Connect Four move by move
(buttons and arrow keys), a link that opens at a position, the controls in view without
scrolling on a laptop and a phone, and the arena's names, scores and HP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import screenshot, site_shell
from tests.browser.test_phone import LANDSCAPE, PHONE, PORTRAIT
from tests.browser.test_play_in_browser import both_play_now, c4_state, play_connect_four_to_a_win
from tests.browser.test_result_screen import me

pytestmark = pytest.mark.browser

DISCS = "window.__replay.state.board.flat().length"
# play_connect_four_to_a_win: the opener fills column 0, the other column 1; 7 moves.
MOVES = 7
LAPTOP = {"viewport": {"width": 1280, "height": 720}}
# The phone of the phone tests, upright and on its side.
SCREENS = {
    "laptop": LAPTOP,
    "phone upright": {**PHONE, "viewport": PORTRAIT},
    "phone on its side": {**PHONE, "viewport": LANDSCAPE},
}


@pytest.fixture(scope="module")
def finished_connect_four(browser, tls_site) -> Iterator[dict[str, object]]:
    """A public Connect Four match two guests played to a win: its id and who was who."""
    contexts = [browser.new_context(ignore_https_errors=True) for _ in range(2)]
    alice, bob = (context.new_page() for context in contexts)
    for page in (alice, bob):
        page.set_default_timeout(15_000)
        page.goto(tls_site + "/")
    match_id = both_play_now(alice, bob, "connect_four")
    alice.wait_for_function("() => window.__arcade.view.debug().state !== null")
    opener = c4_state(alice)["state"]["to_move"]
    names = {c4_state(page)["mySeat"]: me(page)["display_name"] for page in (alice, bob)}
    play_connect_four_to_a_win(alice, bob)
    alice.locator("#result").wait_for(state="visible")
    for context in contexts:
        context.close()
    yield {"id": match_id, "opener": names[opener], "other": names[1 - opener]}


@pytest.fixture
def visitor(browser, tls_site):
    """Someone with no session at all opening pages of the site, on a screen of choice."""
    contexts = []

    def make(path: str, screen: dict[str, object] = LAPTOP):
        context = browser.new_context(ignore_https_errors=True, **screen)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(tls_site + path)
        page.wait_for_function("() => window.__replay")
        return page

    yield make
    for context in contexts:
        context.close()


def hud(page) -> str:
    return page.locator("#replay-hud").inner_text()


def discs(page) -> int:
    return int(page.evaluate(DISCS))


def press(button: str, page) -> dict[str, int] | None:
    """Click a button and say, in the same task, which disc is falling ({column, row})."""
    return page.evaluate(
        """(id) => {
          document.getElementById(id).click();
          const drop = window.__replay.falling;
          return drop && { column: drop.column, row: drop.row };
        }""",
        button,
    )


def test_a_connect_four_replay_steps_one_disc_at_a_time_and_names_whose_move(
    finished_connect_four, visitor
):
    match = finished_connect_four
    page = visitor(f"/replay/{match['id']}/")
    players = page.locator("#replay-players").inner_text()
    assert match["opener"] in players and match["other"] in players
    assert page.evaluate("window.__replay.moves") == MOVES
    assert discs(page) == 0  # no position asked for: the start
    assert hud(page).startswith(f"Move 0 of {MOVES} · {match['opener']} to move")

    page.get_by_role("button", name="Next move").click()
    page.wait_for_function(f"() => {DISCS} === 1")
    assert hud(page).startswith(f"Move 1 of {MOVES} · {match['other']} to move")
    assert page.locator("#replay-players li.to-move .name").inner_text() == match["other"]
    # Said to a screen reader too.
    assert (
        page.locator("#replay-announce").text_content()
        == f"Move 1 of {MOVES}. {match['other']} to move."
    )

    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {DISCS} === 2")
    assert hud(page).startswith(f"Move 2 of {MOVES} · {match['opener']} to move")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => {DISCS} === 1")
    page.get_by_role("button", name="Previous move").click()
    page.wait_for_function(f"() => {DISCS} === 0")
    page.get_by_role("button", name="Previous move").click()  # at the start: stays there
    assert discs(page) == 0

    # A disc played forward falls into its cell (the opener's, in column 0), as on the match
    # page; a step back takes it out at once.
    assert press("next-move", page) == {"column": 0, "row": 0}
    page.wait_for_function("() => window.__replay.falling === null")
    assert press("previous-move", page) is None
    assert discs(page) == 0

    # Each step is one disc, to the winning one; the last says who won and how.
    for moves in range(1, MOVES + 1):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => {DISCS} === {moves}")
    assert hud(page) == f"Move {MOVES} of {MOVES} · {match['opener']} wins: four in a row."
    assert page.evaluate("window.__replay.state.line.length") == 4
    page.keyboard.press("ArrowRight")  # past the end: nothing more
    assert discs(page) == MOVES


def test_a_copied_link_opens_the_replay_at_its_position_for_anyone(
    finished_connect_four, visitor, tls_site
):
    match = finished_connect_four
    page = visitor(f"/replay/{match['id']}/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tls_site)
    for moves in range(1, 4):
        page.get_by_role("button", name="Next move").click()
        page.wait_for_function(f"() => {DISCS} === {moves}")
    tick = int(page.evaluate("window.__replay.tick"))
    page.get_by_role("button", name="Copy link").click()
    page.locator("#copy-link-done", has_text="Copied").wait_for()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == f"{tls_site}/replay/{match['id']}/?t={tick}"

    # A public match's replay opens for a visitor with no session, at the same move.
    friend = visitor(link.removeprefix(tls_site))
    assert friend.evaluate("window.__replay.tick") == tick
    assert discs(friend) == 3
    assert hud(friend).startswith(f"Move 3 of {MOVES} · {match['other']} to move")
    assert friend.evaluate("window.__replay.playing") is False
    friend.get_by_role("button", name="Play").click()  # and plays on from there
    friend.wait_for_function(f"() => {DISCS} === 4", timeout=40_000)


@pytest.mark.parametrize("screen", SCREENS.values(), ids=list(SCREENS))
def test_the_controls_are_in_view_without_scrolling(finished_connect_four, visitor, screen):
    viewport = screen["viewport"]
    page = visitor(f"/replay/{finished_connect_four['id']}/", screen)
    assert page.evaluate("window.scrollY") == 0
    for name in ("Play", "Next move", "Previous move"):
        button = page.get_by_role("button", name=name, exact=True)
        box = button.bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (name, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (name, box)
    if screen is LAPTOP:  # and on a laptop the whole board too, under them
        board = page.locator("#board").bounding_box()
        assert board is not None and board["y"] + board["height"] <= viewport["height"], board
    # Nothing covers the play button: a tap there reaches it.
    page.get_by_role("button", name="Play", exact=True).click(trial=True, timeout=2_000)


# An arena match of the guest against two bots with a short clock, played by the server.
SHORT_ARENA = """
from games.models import Match, Player
from games.services import create_bot_match
match = create_bot_match(Player.objects.get(pk=%d), "arena", "hard")
Match.objects.filter(pk=match.pk).update(settings={**match.settings, "time_limit_seconds": 6})
print(match.pk)
"""


def ship_rows(page) -> dict[str, list[str]]:
    return {
        row.locator(".name").inner_text(): [
            row.locator(".score").inner_text(),
            row.locator(".hp").inner_text(),
        ]
        for row in page.locator("#replay-players li").all()
    }


def test_an_arena_replay_shows_each_ships_name_score_and_hp(new_page, site_env, tls_site):
    page = new_page("/")
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    guest = me(page)
    match_id = site_shell(site_env, SHORT_ARENA % guest["id"]).strip()
    page.goto(f"{tls_site}/play/{match_id}/")
    page.locator("#result").wait_for(state="visible", timeout=40_000)
    stored = page.evaluate(f"fetch('/api/matches/{match_id}/').then(r => r.json())")
    names = [p["player"]["display_name"] for p in stored["participants"]]
    assert guest["display_name"] in names and len(names) == 3

    page.goto(f"{tls_site}/replay/{match_id}/")
    page.wait_for_function("() => window.__replay")
    assert hud(page) == "0:06 left"
    assert ship_rows(page) == {name: ["0", "HP 3/3"] for name in names}

    # Halfway: the list says what the frame drawn says, ship by ship.
    half = page.evaluate("window.__replay.lastTick") // 2
    page.locator("#seek").fill(str(half))
    page.wait_for_function(f"() => window.__replay.tick === {half}")
    ships = page.evaluate("window.__replay.state.ships")
    rows = ship_rows(page)
    for ship, name in zip(ships, names, strict=True):
        hp = f"HP {ship['hp']}/3" if ship["alive"] else "destroyed"
        assert rows[name] == [str(ship["score"]), hp]
    assert page.locator("#replay-hud").inner_text().endswith(" left")
    screenshot(page, "replay-arena")

    # The end: the scores the match was recorded with, and its summary.
    page.locator("#seek").fill(str(page.evaluate("window.__replay.lastTick")))
    page.wait_for_function("() => window.__replay.state.finished")
    rows = ship_rows(page)
    for participant in stored["participants"]:
        assert rows[participant["player"]["display_name"]][0] == str(participant["score"])
    assert hud(page) == page.locator("[data-summary]").inner_text()
