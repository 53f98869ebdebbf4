"""The match page at its edges: typing in chat, a link gone silent, an opponent who left."""

import re

import pytest

from tests.browser.test_play_in_browser import both_play_now
from tests.e2e.netproxy import CuttableProxy

pytestmark = pytest.mark.browser

# Every letter, the arena's keys among them, space, punctuation and digits.
CHAT = "good luck, have fun! wasd ftw - the quick brown fox jumps over the lazy dog 1234567"


def own_ship(page):
    seat = page.evaluate("window.__arcade.view.debug().mySeat")
    return page.evaluate(f"window.__arcade.view.debug().ships[{seat}]")


def wait_ticks(page, ticks):
    """Wait until `ticks` more states have reached the page."""
    page.wait_for_function("() => window.__arcade.connection.lastTick !== null")
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


# What the page went through, for the assertions: statuses with their close codes, and
# the error frames the server sent.
RECORD = """() => {
    window.__log = [];
    const { connection } = window.__arcade;
    connection.addEventListener("status", (e) =>
        window.__log.push({ at: performance.now(), kind: "status", ...e.detail }));
    connection.addEventListener("frame", (e) => {
        const { type, code, message, you } = e.detail;
        if (type === "error") window.__log.push({ kind: "error", code, message });
        if (type === "welcome") window.__log.push({ kind: "welcome", seat: you.seat });
    });
}"""


@pytest.mark.parametrize(
    ("how", "seconds"),
    [("offline", 5), ("offline", 15), ("silent proxy", 12), ("stalled proxy", 12)],
)
def test_a_silent_link_is_noticed_shown_and_the_player_comes_back_without_a_flood(
    new_page, tls_site, how, seconds
):
    port = int(tls_site.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    try:
        alice = new_page("/", base=f"https://127.0.0.1:{proxy.port}")
        bob = new_page("/")
        both_play_now(alice, bob, "arena")
        for page in (alice, bob):
            page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
        seat = alice.evaluate("window.__arcade.view.debug().mySeat")
        alice.evaluate(RECORD)
        alice.wait_for_function("() => window.__arcade.connection.clock.rtt !== null")

        silent_since = alice.evaluate("performance.now()")
        if how == "offline":
            alice.context.set_offline(True)
        elif how == "silent proxy":
            proxy.blackhole()  # no bytes either way, no close: the connection just goes quiet
        else:
            proxy.stall()  # no bytes either way until the end, then all that was held at once
        alice.locator("#overlay", has_text="Connection lost").wait_for(timeout=5_000)
        # When the page said so (the overlay shows in the same task), by the page's clock.
        noticed_after = alice.evaluate("window.__log.find((e) => e.lost).at") - silent_since
        assert alice.locator("#rtt").inner_text() == "\u2013"  # a dash: no frozen round trip
        alice.wait_for_timeout(seconds * 1000 - noticed_after)  # the length of the outage
        if how == "offline":
            alice.context.set_offline(False)
        else:
            proxy.restore()

        alice.locator("#overlay").wait_for(state="hidden", timeout=25_000)
        wait_ticks(alice, 20)  # states flow again
        log = alice.evaluate("window.__log")
        # No flood (4008, rate_limited) and no stale acknowledgement (invalid): no error at all.
        assert not [e for e in log if e["kind"] == "error" or e.get("code") == 4008], log
        assert [e["seat"] for e in log if e["kind"] == "welcome"][-1] == seat
        assert alice.locator("#connection").inner_text() == "open"
        bob.wait_for_function(
            f"() => ![...document.querySelectorAll('#players li')][{seat}]"
            ".classList.contains('offline')"
        )
        # The ship answers the keys again, as the other player sees it.
        start_x = bob.evaluate(f"window.__arcade.view.debug().ships[{seat}].x")
        key = "d" if start_x < 480 else "a"
        alice.keyboard.down(key)
        bob.wait_for_function(
            f"() => Math.abs(window.__arcade.view.debug().ships[{seat}].x - {start_x}) > 50"
        )
        alice.keyboard.up(key)
        assert noticed_after < 3_000, f"noticed after {noticed_after:.0f} ms"
    finally:
        proxy.close()


AWAY = re.compile(r"(.+) disconnected — (\d+) s to come back")


def seconds_to_come_back(page):
    match = AWAY.fullmatch(page.locator("#away").inner_text())
    assert match, page.locator("#away").inner_text()
    return match[1], int(match[2])


@pytest.mark.parametrize("game", ["connect_four", "arena"])
def test_the_player_who_stays_sees_who_dropped_and_how_long_they_have_to_come_back(
    new_page, tls_site, game
):
    port = int(tls_site.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    try:
        alice = new_page("/")
        bob = new_page("/", base=f"https://127.0.0.1:{proxy.port}")  # Bob's network can be cut
        both_play_now(alice, bob, game)
        for page in (alice, bob):
            page.wait_for_function("() => window.__arcade.connection.lastTick !== null")
        seat = bob.evaluate("window.__arcade.view.debug().mySeat")
        name = alice.locator("#players li .name").nth(seat).inner_text()
        assert alice.locator("#away").is_hidden()

        proxy.cut()
        alice.locator("#away").wait_for(state="visible")
        who, left = seconds_to_come_back(alice)
        assert who == name
        assert 28 <= left <= 30  # the server's grace period, 30 s, counted from the drop
        # It counts down, once a second.
        alice.wait_for_function(
            f"""() => {{
                const text = document.getElementById("away").textContent;
                const m = /— (\\d+) s to come back/.exec(text);
                return m && Number(m[1]) <= {left - 2};
            }}"""
        )
        assert bob.locator("#away").is_hidden()  # Bob sees his own overlay, not this

        proxy.restore()
        alice.locator("#away").wait_for(state="hidden", timeout=20_000)
        assert bob.locator("#overlay").is_hidden()
    finally:
        proxy.close()
