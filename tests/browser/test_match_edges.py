"""The match page at its edges: typing in chat, a link gone silent, an opponent who left."""

import pytest

from tests.browser.test_play_in_browser import both_play_now

pytestmark = pytest.mark.browser

# Every letter, the arena's keys among them, space, punctuation and digits.
CHAT = "good luck, have fun! wasd ftw - the quick brown fox jumps over the lazy dog 1234567"


def own_ship(page):
    seat = page.evaluate("window.__arcade.view.debug().mySeat")
    return page.evaluate(f"window.__arcade.view.debug().ships[{seat}]")


def wait_ticks(page, ticks):
    """Wait until `ticks` more states have reached the page."""
    start = page.evaluate("window.__arcade.connection.lastTick")
    page.wait_for_function(f"() => window.__arcade.connection.lastTick >= {start + ticks}")


def test_keys_typed_in_the_arena_chat_reach_the_chat_and_do_not_steer(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    seat = alice.evaluate("window.__arcade.view.debug().mySeat")
    before = own_ship(alice)

    alice.locator("#chat-input").click()
    alice.keyboard.type(CHAT)
    # A movement key held in the field for a while (ten states): still only a letter.
    alice.keyboard.down("d")
    wait_ticks(alice, 10)
    alice.keyboard.up("d")
    # Arrows move the caret in the field: "X" lands two characters before the end.
    alice.keyboard.press("ArrowLeft")
    alice.keyboard.press("ArrowLeft")
    alice.keyboard.type("X")
    alice.keyboard.press("Enter")

    expected = CHAT[:-1] + "X" + CHAT[-1] + "d"
    bob.locator("#chat-log li", has_text=expected).wait_for()
    assert bob.locator("#chat-log li").last.inner_text().split(": ", 1)[1] == expected
    # The ship stayed where it was, for the player and for the other one.
    wait_ticks(bob, 5)
    after = bob.evaluate(f"window.__arcade.view.debug().ships[{seat}]")
    assert (after["x"], after["y"]) == pytest.approx((before["x"], before["y"]), abs=0.5)
    mine = own_ship(alice)
    assert (mine["x"], mine["y"]) == pytest.approx((before["x"], before["y"]), abs=0.5)
    # Out of the field (a click on the board takes the focus), the same keys steer again.
    alice.locator("#board").click()
    alice.keyboard.down("d" if before["x"] < 480 else "a")
    bob.wait_for_function(
        f"() => Math.abs(window.__arcade.view.debug().ships[{seat}].x - {before['x']}) > 50"
    )
    alice.keyboard.up("d" if before["x"] < 480 else "a")
