"""Two people in two browsers find each other through "Play now" and play, over WSS."""

import itertools

import pytest

from tests.browser.conftest import screenshot
from tests.e2e.netproxy import CuttableProxy

pytestmark = pytest.mark.browser


def guest_play_now(page, game):
    """Become a guest with one click, then press Play now: the page searches for a match."""
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    page.locator(f'[data-play-now="{game}"]').click()


def in_match(page):
    """Wait until matchmaking has taken the page to its match; returns the match id."""
    page.wait_for_url("**/play/*/")
    page.wait_for_function("() => window.__arcade && window.__arcade.view")
    return page.url.rstrip("/").split("/")[-1]


def both_play_now(first, second, game):
    """Two guests press Play now one after the other and are matched; the match id."""
    guest_play_now(first, game)
    first.get_by_role("button", name="Cancel").wait_for()  # alone in the queue: searching
    guest_play_now(second, game)
    match_id = in_match(first)
    assert in_match(second) == match_id
    return match_id


def c4_state(page):
    return page.evaluate("window.__arcade.view.debug()")


def click_column(page, column):
    box = page.locator("#board").bounding_box()
    page.mouse.click(box["x"] + (column + 0.5) * box["width"] / 7, box["y"] + box["height"] * 0.6)


def play_connect_four_to_a_win(first, second):
    """Both pages are in one match; whoever opens wins on column 0."""
    pages = [first, second]
    first.wait_for_function("() => window.__arcade.view.debug().state !== null")
    for move in range(7):
        first.wait_for_function(f"() => window.__arcade.view.debug().state.moves === {move}")
        to_move = c4_state(first)["state"]["to_move"]
        mover = next(p for p in pages if c4_state(p)["mySeat"] == to_move)
        mover.wait_for_function(f"() => window.__arcade.view.debug().state.moves === {move}")
        click_column(mover, 0 if move % 2 == 0 else 1)


def test_two_guests_play_connect_four_by_clicking(new_page):
    alice = new_page("/")
    screenshot(alice, "lobby")
    bob = new_page("/")
    match_a = both_play_now(alice, bob, "connect_four")

    play_connect_four_to_a_win(alice, bob)
    for page in (alice, bob):
        page.locator("#result").wait_for(state="visible")
    titles = {
        alice.locator("#result-title").inner_text(),
        bob.locator("#result-title").inner_text(),
    }
    assert titles == {"You won!", "You lost"}
    assert "four in a row" in alice.locator("#result-summary").inner_text()
    screenshot(alice, "connect-four")

    stored = alice.evaluate(f"fetch('/api/matches/{match_a}/').then(r => r.json())")
    assert stored["status"] == "finished"
    assert {p["outcome"] for p in stored["participants"]} == {"win", "loss"}


def test_keyboard_in_one_browser_moves_the_ship_in_the_other(new_page):
    alice = new_page("/")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    # The page is on https, so the socket is wss, through daphne's TLS endpoint.
    assert alice.evaluate("window.__arcade.connection.url").startswith("wss://127.0.0.1:")
    # States arrive as compact binary frames, deltas from the states the page
    # acknowledged: the subprotocol the page offers first.
    assert alice.evaluate("window.__arcade.connection.ws.protocol") == "arcade.v1.compact"
    alice.wait_for_function("() => window.__arcade.connection.deltaFrames > 5")
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    seat = alice.evaluate("window.__arcade.view.debug().mySeat")
    start_x = bob.evaluate(f"window.__arcade.view.debug().ships[{seat}].x")
    alice.locator("#board").focus()
    alice.keyboard.down("d")
    bob.wait_for_function(
        f"() => window.__arcade.view.debug().ships[{seat}].x > {start_x} + 100", timeout=10_000
    )
    alice.keyboard.up("d")
    moved = bob.evaluate(f"window.__arcade.view.debug().ships[{seat}].x")
    assert moved > start_x + 100
    screenshot(bob, "arena")


def test_the_replay_viewer_plays_a_finished_match(new_page):
    alice = new_page("/")
    bob = new_page("/")
    match_id = both_play_now(alice, bob, "connect_four")
    play_connect_four_to_a_win(alice, bob)
    alice.locator("#result").wait_for(state="visible")

    alice.get_by_role("link", name="Watch replay").click()
    alice.wait_for_url(f"**/replay/{match_id}/")
    alice.wait_for_function("() => window.__replay && window.__replay.frames > 7")
    alice.select_option("#speed", "4")
    alice.get_by_role("button", name="Play").click()
    alice.wait_for_function(
        "() => window.__replay.tick >= window.__replay.lastTick", timeout=20_000
    )
    assert alice.locator("#play").inner_text() == "Play"  # stopped at the end by itself
    assert "/" in alice.locator("#position").inner_text()


def test_losing_the_network_mid_match_shows_the_overlay_and_resumes_the_seat(new_page, tls_site):
    port = int(tls_site.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    alice = new_page("/")
    bob = new_page("/", base=f"https://127.0.0.1:{proxy.port}")  # Bob's network can be cut
    both_play_now(alice, bob, "connect_four")
    alice.wait_for_function("() => window.__arcade.view.debug().state !== null")
    # One move, so there is a score on the board to keep.
    to_move = c4_state(alice)["state"]["to_move"]
    mover = alice if c4_state(alice)["mySeat"] == to_move else bob
    click_column(mover, 3)
    alice.wait_for_function("() => window.__arcade.view.debug().state.moves === 1")
    seat = c4_state(bob)["mySeat"]

    proxy.cut()
    bob.locator("#overlay").wait_for(state="visible")
    assert "Reconnecting" in bob.locator("#overlay-text").inner_text()
    alice.wait_for_function(
        f"() => [...document.querySelectorAll('#players li')][{seat}].classList.contains('offline')"
    )
    proxy.restore()
    bob.locator("#overlay").wait_for(state="hidden", timeout=20_000)
    assert c4_state(bob)["mySeat"] == seat
    assert c4_state(bob)["state"]["moves"] == 1
    assert c4_state(bob)["state"]["board"][3] == [to_move]
    alice.wait_for_function(
        f"() => ![...document.querySelectorAll('#players li')][{seat}]"
        ".classList.contains('offline')"
    )
    proxy.close()


def test_prediction_moves_the_own_ship_smoothly_at_100_ms_round_trip(new_page, tls_site):
    port = int(tls_site.rsplit(":", 1)[1])
    proxy = CuttableProxy(port, latency=0.05)  # 50 ms each way
    alice = new_page("/", base=f"https://127.0.0.1:{proxy.port}")
    bob = new_page("/")
    both_play_now(alice, bob, "arena")
    alice.wait_for_function("() => window.__arcade.view.debug().ships.length === 2")
    seat = alice.evaluate("window.__arcade.view.debug().mySeat")
    alice.wait_for_function("() => window.__arcade.connection.clock.rtt !== null")
    # Record where the page draws its own ship on every animation frame.
    alice.evaluate(
        f"""() => {{
            window.__samples = [];
            const sample = () => {{
                const ship = window.__arcade.view.debug().ships[{seat}];
                if (ship) window.__samples.push(ship.x);
                requestAnimationFrame(sample);
            }};
            requestAnimationFrame(sample);
        }}"""
    )
    alice.locator("#board").focus()
    start = alice.evaluate(f"window.__arcade.view.debug().ships[{seat}].x")
    direction = "d" if start < 480 else "a"  # towards the middle: no wall in the way
    alice.keyboard.down(direction)
    alice.wait_for_function(
        f"() => Math.abs(window.__arcade.view.debug().ships[{seat}].x - {start}) > 150",
        timeout=10_000,
    )
    alice.keyboard.up(direction)
    samples = alice.evaluate("window.__samples")
    rtt = alice.evaluate("window.__arcade.connection.clock.rtt")
    proxy.close()

    assert rtt >= 100, "the proxy adds 100 ms of round trip"
    steps = [b - a for a, b in itertools.pairwise(samples)]
    sign = 1 if direction == "d" else -1
    # No rubber-banding: the own ship never moves back, although every state is 100 ms old.
    assert min(sign * s for s in steps) > -0.5, steps
    assert sign * (samples[-1] - samples[0]) > 150
