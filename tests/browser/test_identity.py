"""Who is who on the match page: your colour, "(you)", whose turn it is, names instead of
seat numbers, and bots shown as bots."""

import pytest

from tests.browser.test_play_alone import play_vs_computer
from tests.browser.test_play_in_browser import both_play_now, c4_state, click_column

pytestmark = pytest.mark.browser

COLOURS = ("You are amber", "You are teal")


def entries(page):
    return [li.inner_text() for li in page.locator("#players li").all()]


def test_each_player_reads_their_colour_themselves_and_whose_turn_it_is(new_page):
    alice, bob = new_page("/"), new_page("/")
    both_play_now(alice, bob, "connect_four")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    names = {}
    for page in (alice, bob):
        seat = c4_state(page)["mySeat"]
        assert page.locator("#role").inner_text() == COLOURS[seat]
        mine = page.locator("#players li").nth(seat)
        assert mine.locator(".name").inner_text().endswith(" (you)")
        names[seat] = mine.locator(".name").inner_text().removesuffix(" (you)")
        other = page.locator("#players li").nth(1 - seat).locator(".name").inner_text()
        assert "(you)" not in other
    to_move = c4_state(alice)["state"]["to_move"]
    mover = alice if c4_state(alice)["mySeat"] == to_move else bob
    waiter = bob if mover is alice else alice
    for page in (alice, bob):
        page.locator("#players li.to-move").wait_for()
        assert page.locator("#players li.to-move .name").inner_text().startswith(names[to_move])
        assert page.locator("#players li.to-move .turn").inner_text() == "to move"
    # The HUD names the player to move: never "Player 2".
    waiter.locator("#hud-status", has_text=f"{names[to_move]} to move").wait_for()
    assert mover.locator("#hud-status").inner_text().startswith("Your turn")

    click_column(mover, 3)
    # The turn passes, in the list too.
    waiter.locator("#hud-status", has_text="Your turn").wait_for()
    for page in (alice, bob):
        page.wait_for_function(
            f"() => document.querySelector('#players li.to-move .name')"
            f".textContent.startsWith({names[1 - to_move]!r})"
        )


def test_a_computer_player_has_a_bot_badge_in_the_players_list(new_page):
    page = new_page("/")
    play_vs_computer(page, "connect_four", "easy")
    page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    bot = page.locator("#players li", has_text="Connect Four bot · easy")
    assert bot.locator(".badge", has_text="bot").count() == 1
    me = page.locator("#players li", has_text="(you)")
    assert me.locator(".badge").count() == 0
