"""Time as the server counts it, on the match page: the arena's "3, 2, 1, GO" (no ship
moves before GO), and the seconds a player who dropped has left to come back, from the
server's own grace period (12 s here, not the default 30), through a reload, up to the win
of the player who stayed."""

import re

import pytest

from tests.browser.test_play_in_browser import both_play_now

pytestmark = pytest.mark.browser

GRACE_SECONDS = 12
AWAY = re.compile(r"(.+) disconnected — (\d+) s to come back")


@pytest.fixture(scope="module")
def site_env(site_env):
    """The browser tests' site, with a grace period of 12 s and the countdown of 3 s."""
    return {
        **site_env,
        "MATCH_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS),
        "MATCH_COUNTDOWN_SECONDS": "3",
    }


# Every frame: the countdown shown, the newest state's tick, and the own ship as the
# server has it and as the page draws it.
RECORD = """() => {
    window.__seen = [];
    const { view, connection } = window.__arcade;
    const look = () => {
        const seat = view.mySeat;
        const server = view.buffer.latest()?.state.ships[seat];
        const drawn = view.debug().ships[seat];
        window.__seen.push({
            text: document.getElementById("waiting").dataset.countdown || "",
            shown: !document.getElementById("waiting").hidden,
            tick: connection.lastTick,
            x: server ? server.x : null,
            drawn: drawn ? drawn.x : null,
        });
        if (window.__seen.length < 2000) requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""


def test_the_arena_counts_3_2_1_go_and_no_ship_moves_before_go(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    for page in (alice, bob):
        page.evaluate(RECORD)
    # Alice holds a key towards the middle from before the start to well after GO.
    alice.wait_for_function("() => window.__arcade.view.buffer.latest() !== null")
    seat = alice.evaluate("window.__arcade.view.mySeat")
    start_x = alice.evaluate(f"window.__arcade.view.buffer.latest().state.ships[{seat}].x")
    key = "d" if start_x < 480 else "a"
    alice.keyboard.down(key)
    try:
        alice.wait_for_function(
            f"() => window.__arcade.view.buffer.latest().state.ships[{seat}].x !== {start_x}",
            timeout=15_000,
        )
    finally:
        alice.keyboard.up(key)
    seen = alice.evaluate("window.__seen")

    texts = [entry["text"] for entry in seen]
    assert countdown_shown(texts) == ["3", "2", "1", "GO"], texts
    counting = [entry for entry in seen if entry["text"] in ("3", "2", "1")]
    assert all(entry["shown"] for entry in counting)
    # Before GO the server's tick stays at the start and the ship where it began, on the
    # server and on the page, with the key held all along.
    assert {entry["tick"] for entry in counting} == {0}
    assert {entry["x"] for entry in counting} == {start_x}
    assert all(abs(entry["drawn"] - start_x) < 0.5 for entry in counting)
    # It moves once the countdown is over.
    first_move = next(i for i, e in enumerate(seen) if e["x"] not in (None, start_x))
    assert "GO" in texts[:first_move] and not any(t in ("3", "2", "1") for t in texts[first_move:])
    # Bob saw the same countdown, and nothing of it is left.
    bob.locator("#waiting").wait_for(state="hidden")
    bob_texts = [entry["text"] for entry in bob.evaluate("window.__seen")]
    assert countdown_shown(bob_texts) == ["3", "2", "1", "GO"], bob_texts


def countdown_shown(texts):
    """The countdown's words in the order they appeared, each once."""
    return [t for i, t in enumerate(texts) if t and (i == 0 or texts[i - 1] != t)]


def away_seconds(page):
    found = AWAY.fullmatch(page.locator("#away").inner_text())
    assert found, page.locator("#away").inner_text()
    return found[1], int(found[2])


def test_the_player_who_stayed_sees_the_servers_grace_left_then_wins(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "connect_four")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.connection.lastTick !== null")
    seat = bob.evaluate("window.__arcade.view.mySeat")
    name = alice.locator("#players li .name").nth(seat).inner_text()

    bob.close()  # Bob's page is gone
    alice.locator("#away").wait_for(state="visible")
    who, left = away_seconds(alice)
    assert who == name and GRACE_SECONDS - 2 <= left <= GRACE_SECONDS  # the server's 12 s
    alice.wait_for_function(
        f"""() => {{
            const m = /— (\\d+) s to come back/.exec(document.getElementById("away").textContent);
            return m && Number(m[1]) <= {left - 3};
        }}"""
    )
    # A reload does not start the count again: the welcome says what is left.
    alice.reload()
    alice.locator("#away").wait_for(state="visible")
    _, after_reload = away_seconds(alice)
    assert after_reload <= left - 3

    # At the end of the grace period Alice wins, in words, and Bob's seat is "abandoned".
    alice.locator("#result").wait_for(state="visible", timeout=(GRACE_SECONDS + 10) * 1000)
    assert alice.locator("#result-title").inner_text() == "You won!"
    assert "left the match" in alice.locator("#result-summary").inner_text()
    assert alice.locator("#away").is_hidden()
