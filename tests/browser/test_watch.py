"""A visitor finds a match in progress in the lobby, presses "Watch", and sees it played."""

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_play_in_browser import both_play_now, c4_state, click_column

pytestmark = pytest.mark.browser


def moves(page, count):
    """Wait until the page's board shows `count` discs played."""
    page.wait_for_function(
        f"() => window.__arcade?.view?.debug().state?.moves === {count}", timeout=10_000
    )


def move(players, count, column):
    """Whoever is to move (the `count`-th move) drops a disc in `column`."""
    for page in players:
        moves(page, count)
    to_move = c4_state(players[0])["state"]["to_move"]
    mover = next(p for p in players if c4_state(p)["mySeat"] == to_move)
    click_column(mover, column)


def test_a_spectator_finds_a_live_match_in_the_lobby_and_watches_it(new_page):
    alice, bob = new_page("/"), new_page("/")
    match_id = both_play_now(alice, bob, "connect_four")
    move([alice, bob], 0, 3)

    carol = new_page("/")
    carol.get_by_role("button", name="Play as guest").click()
    carol.wait_for_url("**/")
    entry = carol.locator(f'[data-live="connect_four"] li[data-match="{match_id}"]')
    entry.wait_for()  # pushed by the lobby socket (or its poll): the match in progress
    assert " vs " in entry.inner_text()
    assert carol.locator(f'[data-open="connect_four"] a[href="/play/{match_id}/"]').count() == 0
    screenshot(carol, "lobby-live")
    entry.get_by_role("link", name="Watch").click()

    carol.wait_for_url(f"**/play/{match_id}/")
    moves(carol, 1)  # the board as it stands: the disc already played
    assert carol.locator("#role").inner_text() == "Watching"
    watched = c4_state(carol)
    assert watched["mySeat"] is None
    move([alice, bob], 1, 4)
    moves(carol, 2)  # and the next move, live
    assert c4_state(carol)["state"] == c4_state(alice)["state"]
    screenshot(carol, "watching")
