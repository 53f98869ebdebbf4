"""A spectator's match page: it says it is watching, whose move it is, and at the end
offers another match to watch instead of "Play again"."""

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_play_in_browser import (
    both_play_now,
    c4_state,
    play_connect_four_to_a_win,
)
from tests.browser.test_watch import moves

pytestmark = pytest.mark.browser


def test_a_spectator_watches_to_the_end_and_is_offered_another_match(new_page, tls_site):
    alice, bob = new_page("/"), new_page("/")
    match_id = both_play_now(alice, bob, "connect_four")
    carol = new_page("/")
    carol.get_by_role("button", name="Play as guest").click()
    carol.wait_for_url("**/")
    carol.goto(f"{tls_site}/play/{match_id}/")
    carol.wait_for_function("() => window.__arcade?.view?.debug().state")
    moves(carol, 0)

    assert carol.locator("#role").inner_text() == "Watching"
    assert carol.get_by_text("You are watching this match").is_visible()
    assert not carol.get_by_text("Click or tap a column").is_visible()
    to_move = c4_state(carol)["state"]["to_move"]
    mover = carol.locator("#players li .name").nth(to_move).inner_text()
    carol.locator("#hud-status", has_text=f"{mover} to move").wait_for()
    assert carol.locator("[data-report-player]").count() == 0  # spectators report nobody
    # The players see their own words.
    assert alice.get_by_text("Click or tap a column").is_visible()

    play_connect_four_to_a_win(alice, bob)
    carol.locator("#result").wait_for(state="visible")
    assert carol.locator("#result-title").inner_text() == "Match over"
    watch = carol.get_by_role("link", name="Watch another match")
    assert watch.is_visible()
    assert carol.get_by_role("button", name="New opponent").count() == 0
    assert carol.get_by_role("button", name="Rematch").count() == 0
    assert carol.locator("#result-seats button").count() == 0
    screenshot(carol, "spectator-result")
    # A player is still offered "New opponent", not another match to watch.
    alice.locator("#result").wait_for(state="visible")
    assert alice.get_by_role("button", name="New opponent").is_visible()
    assert alice.get_by_role("link", name="Watch another match").count() == 0

    watch.click()
    # The lobby, at the game's "Live now" list.
    carol.wait_for_url(f"{tls_site}/#live-connect_four")
    assert carol.locator("#live-connect_four").text_content() == "Live now"
    carol.locator('[data-live="connect_four"]').wait_for()
