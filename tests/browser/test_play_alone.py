"""A person alone plays: "Play vs computer" in the lobby, one click, no waiting; the server
plays the bots' seats (Connect Four to a result at each level; the arena's bot ships move)."""

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_play_in_browser import c4_state, click_column

pytestmark = pytest.mark.browser

# A bot answers within 1.5 s of its turn: far longer without an answer means nobody plays it.
BOT_ANSWERS_WITHIN_MS = 8_000


def play_vs_computer(page, game, level=None):
    """From the lobby, without an account: choose a level (or keep normal) and press the button."""
    if level is not None:
        page.locator(f'[data-bot-level="{game}"]').select_option(level)
    page.locator(f'[data-play-computer="{game}"]').click()
    page.wait_for_url("**/play/*/")
    page.wait_for_function("() => window.__arcade && window.__arcade.view")
    return page.url.rstrip("/").split("/")[-1]


def my_turn_or_over(page):
    page.wait_for_function(
        """() => {
          const { state, mySeat } = window.__arcade.view.debug();
          return state && (state.finished || state.to_move === mySeat);
        }""",
        timeout=BOT_ANSWERS_WITHIN_MS,
    )
    return c4_state(page)["state"]


@pytest.mark.parametrize("level", ["easy", "normal", "hard"])
def test_a_lone_guest_plays_connect_four_against_the_computer_to_a_result(new_page, level):
    page = new_page("/")
    match_id = play_vs_computer(page, "connect_four", level)
    page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    players = page.locator("#players").inner_text()
    assert f"bot · {level}" in players
    bot_moves = 0
    while True:
        state = my_turn_or_over(page)
        if state["finished"]:
            break
        if state["moves"] > 0:
            bot_moves += 1
        # Stack the first column with room: a plan a bot of any level punishes or allows.
        column = next(c for c in (0, 1, 2, 3, 4, 5, 6) if len(state["board"][c]) < 6)
        moves = state["moves"]
        click_column(page, column)
        page.wait_for_function(
            f"() => window.__arcade.view.debug().state.moves > {moves}",
            timeout=BOT_ANSWERS_WITHIN_MS,
        )
    page.locator("#result").wait_for(state="visible")
    assert page.locator("#result-title").inner_text() in {"You won!", "You lost", "Draw"}
    summary = page.locator("#result-summary").inner_text()
    assert "time" not in summary  # played to the end, not lost on the clock
    assert bot_moves >= 3
    screenshot(page, f"vs-computer-{level}")

    stored = page.evaluate(f"fetch('/api/matches/{match_id}/').then(r => r.json())")
    assert stored["status"] == "finished" and stored["private"]
    assert stored["result"]["rated"] is False
    seats = stored["participants"]
    assert [p["player"]["is_bot"] for p in seats] == [False, True]
    assert {p["outcome"] for p in seats} in ({"win", "loss"}, {"draw"})


def test_the_arena_against_the_computer_starts_at_once_and_the_bots_ships_move(new_page):
    page = new_page("/")
    play_vs_computer(page, "arena")  # the default level: normal
    page.wait_for_function("() => window.__arcade.view.debug().ships.length === 3")
    me = page.evaluate("window.__arcade.view.debug().mySeat")
    bot = 1 if me != 1 else 2
    start = page.evaluate(f"window.__arcade.view.debug().ships[{bot}]")
    page.wait_for_function(
        f"""() => {{
          const ship = window.__arcade.view.debug().ships[{bot}];
          return Math.hypot(ship.x - {start["x"]}, ship.y - {start["y"]}) > 80;
        }}""",
        timeout=BOT_ANSWERS_WITHIN_MS,
    )
    assert "bot · normal" in page.locator("#players").inner_text()
    screenshot(page, "vs-computer-arena")
