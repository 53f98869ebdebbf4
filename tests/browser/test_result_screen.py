"""The result screen reads like a game's: the winning line first, then outcomes in words
with names, placements in the arena, and the new rating with its change."""

import re

import pytest

from tests.browser.conftest import screenshot, site_shell
from tests.browser.test_play_in_browser import both_play_now, play_connect_four_to_a_win

pytestmark = pytest.mark.browser

# When the page heard the last state (the winning move), the result, and when it showed it.
RECORD_END = """() => {
    window.__end = {};
    window.__arcade.connection.addEventListener("frame", (e) => {
        const f = e.detail;
        if (f.type === "state" && f.state.finished && !window.__end.lastState) {
            window.__end.lastState = performance.now();
            window.__end.line = f.state.line.length;
        }
        if (f.type === "result" && !window.__end.result) window.__end.result = performance.now();
    });
    new MutationObserver(() => {
        if (!document.getElementById("result").hidden && !window.__end.shown)
            window.__end.shown = performance.now();
    }).observe(document.getElementById("result"), { attributes: true });
}"""


def me(page):
    return page.evaluate("fetch('/api/me/').then(r => r.json())")["player"]


def test_a_won_match_shows_the_line_then_names_the_winner_and_the_new_ratings(new_page):
    alice, bob = new_page("/"), new_page("/")
    both_play_now(alice, bob, "connect_four")  # a public match: rated
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().state !== null")
        page.evaluate(RECORD_END)
    play_connect_four_to_a_win(alice, bob)
    for page in (alice, bob):
        page.locator("#result").wait_for(state="visible")

    end = alice.evaluate("window.__end")
    assert end["line"] == 4  # the winning line was in the last state drawn...
    assert end["lastState"] <= end["result"]
    beat = end["shown"] - end["result"]  # ...and stays in view a beat before the overlay
    assert 900 <= beat <= 3000, f"the result showed {beat:.0f} ms after it came"

    winner_page = alice if alice.locator("#result-title").inner_text() == "You won!" else bob
    loser_page = bob if winner_page is alice else alice
    assert loser_page.locator("#result-title").inner_text() == "You lost"
    winner, loser = me(winner_page), me(loser_page)
    summary = loser_page.locator("#result-summary").inner_text()
    assert summary == f"{winner['display_name']} wins: four in a row."
    assert "Player" not in summary

    rows = {
        row.locator("td").nth(0).inner_text(): [
            row.locator("td").nth(i).inner_text() for i in (1, 2, 3)
        ]
        for row in loser_page.locator("#result-seats tr").all()
    }
    assert set(rows) == {winner["display_name"], f"{loser['display_name']} (you)"}
    won, lost = rows[winner["display_name"]], rows[f"{loser['display_name']} (you)"]
    assert won[0] == "Winner" and lost[0] == "Lost"
    # The new rating as everyone sees it (profile, leaderboard), and its change from 1500.
    for person, (_, _, rating) in ((winner, won), (loser, lost)):
        shown = re.fullmatch(r"(\d+) \(([+\u2212])(\d+)\)", rating)
        assert shown, rating
        assert int(shown[1]) == person["display_rating"]
        change = int(shown[3]) * (1 if shown[2] == "+" else -1)
        assert change == person["display_rating"] - 1500
    assert int(won[2].split()[0]) > 1500 > int(lost[2].split()[0])
    screenshot(loser_page, "result-screen")

    # The replay names them too.
    loser_page.get_by_role("link", name="Watch replay").click()
    loser_page.wait_for_url("**/replay/*/")
    assert loser_page.locator("[data-summary]").inner_text() == summary
    loser_page.wait_for_function("() => window.__replay && window.__replay.frames > 7")
    screenshot(loser_page, "replay")


FINISHED_ARENA = """
from collections import namedtuple
from games import services
from games.models import Player
Seat = namedtuple("Seat", "seat outcome score rank")  # how a seat ended, as finish_match reads it
me = Player.objects.get(pk=%d)
others = [services.create_guest() for _ in range(2)]
match = services.create_match(others[0], "arena", max_players=3)
services.join_match(me, match.pk)
services.join_match(others[1], match.pk)
services.start_match(match.pk)
results = [Seat(0, "win", 5, 1), Seat(1, "loss", 3, 2),
           Seat(2, "loss", 1, 3)]
services.finish_match(match.pk, results, "Player 1 won: score limit reached.")
print(match.pk, others[0].display_name, others[1].display_name)
"""


def test_an_arena_result_places_every_ship_and_names_the_winner(new_page, site_env, tls_site):
    page = new_page("/")
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    player = me(page)
    match_id, first, third = site_shell(site_env, FINISHED_ARENA % player["id"]).split()
    page.goto(f"{tls_site}/play/{match_id}/")
    # A page opened on a match that is over shows its result at once.
    page.locator("#result").wait_for(state="visible")
    assert page.locator("#result-title").inner_text() == "You placed 2nd of 3"
    assert page.locator("#result-summary").inner_text() == f"{first} won: score limit reached."
    places = [
        [row.locator("td").nth(i).inner_text() for i in (0, 1, 2)]
        for row in page.locator("#result-seats tr").all()
    ]
    assert places == [
        [first, "1st of 3", "5"],
        [f"{player['display_name']} (you)", "2nd of 3", "3"],
        [third, "3rd of 3", "1"],
    ]
    assert "loss" not in page.locator("#result").inner_text()
    screenshot(page, "result-arena")
