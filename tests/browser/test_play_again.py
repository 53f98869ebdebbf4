"""After a match, "Play again" on the match page and "Play now" in the lobby find each other:
through the queue, and through the JSON fallback of a lobby whose socket cannot open."""

import pytest

from tests.browser.test_play_in_browser import (
    both_play_now,
    guest_play_now,
    in_match,
    play_connect_four_to_a_win,
)

pytestmark = pytest.mark.browser

# "Within a few seconds": the queue pairs two new players at once; a player with one
# game behind them is a few rating points away, a gap the window bridges in seconds.
MEET_MS = 10_000

# Lobby sockets that never open (a proxy that drops WebSockets, say); match sockets work.
NO_LOBBY_SOCKET = """
const RealWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  if (String(url).includes("/ws/lobby/")) return { readyState: 0, send() {}, close() {} };
  return new RealWebSocket(url, protocols);
};
"""


def finish_and_play_again(new_page):
    """Alice beats or loses to Bob, then presses New opponent (the queue, as "Play again"
    was): her page, her finished match."""
    alice = new_page("/")
    bob = new_page("/")
    finished = both_play_now(alice, bob, "connect_four")
    play_connect_four_to_a_win(alice, bob)
    alice.locator("#result").wait_for(state="visible")
    alice.get_by_role("button", name="New opponent").click()
    # Alice waits in the queue, on her finished match's page, and may change her mind.
    alice.get_by_role("button", name="Cancel").wait_for()
    assert alice.url.rstrip("/").endswith(finished)
    return alice, finished


def both_in_one_match(alice, finished, carol):
    alice.wait_for_url(lambda url: "/play/" in url and finished not in url, timeout=MEET_MS)
    carol.wait_for_url("**/play/*/", timeout=MEET_MS)
    match_id = in_match(alice)
    assert in_match(carol) == match_id
    for page in (alice, carol):
        page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    stored = alice.evaluate(f"fetch('/api/matches/{match_id}/').then(r => r.json())")
    seated = {p["player"]["display_name"] for p in stored["participants"]}
    names = {
        p.evaluate("fetch('/api/me/').then(r => r.json())")["player"]["display_name"]
        for p in (alice, carol)
    }
    assert seated == names


def test_play_again_after_a_match_meets_a_new_player_pressing_play_now(new_page):
    alice, finished = finish_and_play_again(new_page)
    carol = new_page("/")
    guest_play_now(carol, "connect_four")
    both_in_one_match(alice, finished, carol)


def test_play_again_meets_a_player_whose_lobby_falls_back_to_the_json_api(new_page):
    alice, finished = finish_and_play_again(new_page)
    carol = new_page("/")
    carol.add_init_script(NO_LOBBY_SOCKET)
    carol.reload()
    carol.wait_for_function("() => window.__lobby.ws.readyState === 0")
    # Carol's "Play now" opens a match through POST /api/play/; the queue seats Alice in it.
    fallback = carol.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/play/"))
    with fallback:
        guest_play_now(carol, "connect_four")
    both_in_one_match(alice, finished, carol)
