"""Rematch on the result screen: both agree and play again in the same seats; the other
side is told who wants one, who declined and who left; against the computer it starts at
once."""

import pytest

from tests.browser.conftest import site_shell
from tests.browser.test_play_in_browser import (
    both_play_now,
    c4_state,
    in_match,
    play_connect_four_to_a_win,
)

pytestmark = pytest.mark.browser


def my_name(page):
    return page.evaluate("fetch('/api/me/').then(r => r.json())")["player"]["display_name"]


def finished_pair(new_page):
    alice, bob = new_page("/"), new_page("/")
    match_id = both_play_now(alice, bob, "connect_four")
    play_connect_four_to_a_win(alice, bob)
    for page in (alice, bob):
        page.locator("#result").wait_for(state="visible")
        page.get_by_role("button", name="Rematch", exact=True).wait_for()
    return alice, bob, match_id


def test_both_agree_and_play_the_rematch_in_the_same_seats(new_page):
    alice, bob, finished = finished_pair(new_page)
    seats = {c4_state(alice)["mySeat"], c4_state(bob)["mySeat"]}
    alice_seat = c4_state(alice)["mySeat"]
    alice.get_by_role("button", name="Rematch", exact=True).click()
    alice.locator("#rematch-status", has_text="Waiting for").wait_for()
    assert my_name(bob) in alice.locator("#rematch-status").inner_text()

    bob.locator("#rematch-status", has_text=f"{my_name(alice)} wants a rematch").wait_for()
    bob.get_by_role("button", name="Accept rematch").click()
    for page in (alice, bob):
        page.wait_for_url(lambda url: "/play/" in url and finished not in url)
    rematch = in_match(alice)
    assert in_match(bob) == rematch
    for page in (alice, bob):
        page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    assert c4_state(alice)["mySeat"] == alice_seat  # the same seat: the same colour
    assert {c4_state(alice)["mySeat"], c4_state(bob)["mySeat"]} == seats
    assert alice.locator("#role").inner_text() == ("You are amber", "You are teal")[alice_seat]


def test_a_declined_rematch_says_who_declined(new_page):
    alice, bob, _ = finished_pair(new_page)
    alice.get_by_role("button", name="Rematch", exact=True).click()
    bob.get_by_role("button", name="Decline").click()
    alice.locator("#rematch-status", has_text=f"{my_name(bob)} declined the rematch.").wait_for()
    assert alice.get_by_role("button", name="Rematch", exact=True).is_disabled()
    assert bob.locator("#rematch-status").inner_text() == "You declined the rematch."


def test_a_player_who_leaves_the_result_screen_is_said_to_have_left(new_page, tls_site):
    alice, bob, _ = finished_pair(new_page)
    bob_name = my_name(bob)
    alice.get_by_role("button", name="Rematch", exact=True).click()
    bob.locator("#rematch-status", has_text="wants a rematch").wait_for()
    bob.goto(tls_site + "/")  # away from the result, without answering
    alice.locator("#rematch-status", has_text=f"{bob_name} left.").wait_for()


FINISHED_VS_BOT = """
from collections import namedtuple
from games import services
from games.models import Player
Seat = namedtuple("Seat", "seat outcome score rank")  # how a seat ended, as finish_match reads it
match = services.create_bot_match(Player.objects.get(pk=%d), "connect_four", "easy")
services.start_match(match.pk)
services.finish_match(match.pk, [Seat(0, "loss", 0, 2),
                                 Seat(1, "win", 1, 1)],
                      "Player 2 wins: four in a row.")
print(match.pk)
"""


def test_a_rematch_against_the_computer_starts_at_once(new_page, site_env, tls_site):
    page = new_page("/")
    page.get_by_role("button", name="Play as guest").click()
    page.wait_for_url("**/")
    me = page.evaluate("fetch('/api/me/').then(r => r.json())")["player"]
    finished = site_shell(site_env, FINISHED_VS_BOT % me["id"]).strip()
    page.goto(f"{tls_site}/play/{finished}/")
    page.locator("#result").wait_for(state="visible")
    assert page.locator("#result-summary").inner_text() == (
        "Connect Four bot · easy wins: four in a row."
    )
    assert page.locator("#result-seats .badge", has_text="bot").count() == 1
    page.get_by_role("button", name="Rematch", exact=True).click()
    page.wait_for_url(lambda url: "/play/" in url and finished not in url)
    in_match(page)
    page.wait_for_function("() => window.__arcade.view.debug().state !== null")
    players = page.locator("#players").inner_text()
    assert "Connect Four bot · easy" in players and f"{me['display_name']} (you)" in players
