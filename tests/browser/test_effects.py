"""The game canvases' effects as a player sees them: in a real arena match against the
computer a hit shrinks a ship's HP bar and a kill is written in the kill feed; in Connect
Four a dropped disc falls into its cell (and, with reduced motion, is simply there)."""

import itertools
import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_play_alone import my_turn_or_over, play_vs_computer
from tests.browser.test_play_in_browser import click_column

pytestmark = pytest.mark.browser

CELL = 100  # Connect Four's canvas units per cell (connect_four.js)
ROWS = 6

# Every frame's falling disc as drawn (the view's debug hook), for the move `move`, until
# it has landed (or 8 s went by without it).
SAMPLE_FALL = """(move) => {
  window.__fall = new Promise((resolve) => {
    const samples = [];
    const started = performance.now();
    const frame = () => {
      const shown = window.__arcade.view.debug().falling;
      const at = Math.round(performance.now());
      if (shown && shown.move === move) samples.push({ ...shown, at });
      if (samples.length && samples.at(-1).landed) return resolve(samples);
      if (performance.now() - started > 8000) return resolve(samples);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}"""


def drop_and_sample(page):
    """Drop a disc into an empty column on our turn; the frames of its fall and its cell."""
    state = my_turn_or_over(page)
    assert not state["finished"]
    column = next(c for c in (3, 2, 4, 1, 5, 0, 6) if not state["board"][c])
    page.evaluate(SAMPLE_FALL, state["moves"] + 1)
    click_column(page, column)
    return page.evaluate("window.__fall"), column


def cell_y(row):
    return CELL + (ROWS - 1 - row) * CELL + CELL / 2


def test_a_dropped_disc_falls_into_its_cell(new_page):
    page = new_page("/")
    play_vs_computer(page, "connect_four", "easy")
    samples, column = drop_and_sample(page)
    assert samples, "no falling disc was drawn for the move"
    assert {(s["column"], s["row"]) for s in samples} == {(column, 0)}
    # Frames may repeat a position (the sampler and the page draw in the same frame).
    falling = []
    for s in samples:
        if not s["landed"] and (not falling or s["y"] != falling[-1]):
            falling.append(s["y"])
    # Two positions on the way at least (a busy machine draws a 260 ms fall in few frames).
    assert len(falling) >= 2, [(s["at"], round(s["y"])) for s in samples]
    assert all(b > a for a, b in itertools.pairwise(falling)), falling  # always downward
    assert falling[0] < cell_y(0) - 2 * CELL  # seen high above its cell
    assert samples[-1]["landed"] and samples[-1]["y"] == cell_y(0)
    assert page.evaluate("window.__arcade.view.debug().state.board")[column] != []


def test_with_reduced_motion_the_dropped_disc_is_in_its_cell_at_once(new_page):
    page = new_page("/")
    page.emulate_media(reduced_motion="reduce")
    play_vs_computer(page, "connect_four", "easy")
    samples, column = drop_and_sample(page)
    assert samples and samples[0]["landed"] and not samples[0]["animated"], samples
    assert (samples[0]["column"], samples[0]["y"]) == (column, cell_y(0))


HIT_BAR = """() => {
  const { bars } = window.__arcade.view.debug().effects;
  return Object.values(bars).find((shown) => shown < 1) ?? null;
}"""


def test_in_the_arena_a_hit_shrinks_the_hp_bar_and_a_kill_is_in_the_kill_feed(new_page):
    page = new_page("/")
    play_vs_computer(page, "arena", "hard")  # two bots that aim well, and we sit still
    page.wait_for_function("() => window.__arcade.view.debug().ships.length === 3")
    assert len(page.evaluate("window.__arcade.view.debug().effects.bars")) == 3  # one a ship
    shown = page.wait_for_function(HIT_BAR, timeout=45_000).json_value()
    assert shown in (pytest.approx(1 / 3), pytest.approx(2 / 3)), shown  # one segment a hit
    assert page.evaluate("window.__arcade.view.debug().effects.counts.hit") >= 1

    page.wait_for_function(
        "() => window.__arcade.view.debug().effects.feed.length > 0", timeout=60_000
    )
    screenshot(page, "arena-effects")
    effects = page.evaluate("window.__arcade.view.debug().effects")
    assert effects["counts"]["destroyed"] >= 1
    players = page.locator("#players").inner_text()
    killer, victim = re.fullmatch(r"(.+) destroyed (.+)", effects["feed"][0]).groups()
    assert killer == "You" or killer in players, (killer, players)
    assert victim == "you" or victim in players, (victim, players)
    assert killer.lower() != victim.lower()
