"""The rating people see: a pure function of the stored openskill ordinal, on a familiar
scale (1500 to start, never negative), shown by the pages and given by the API."""

from __future__ import annotations

import pytest

from games.services import ratings
from games.services.ratings import Rating, display_rating
from tests.conftest import client_for


def test_a_new_player_shows_1500_not_0():
    assert Rating(25.0, 25.0 / 3.0).ordinal == pytest.approx(0.0)
    assert display_rating(0.0) == 1500


def test_two_first_losses_lower_it_a_little_and_two_wins_raise_it():
    new = Rating(25.0, 25.0 / 3.0)
    lost = winner = new
    for _ in range(2):
        winner, lost = ratings.rate([winner, lost], [1, 2])
    assert lost.ordinal < 0  # the stored value people found baffling: -3.1 or so
    assert 1400 <= display_rating(lost.ordinal) < 1500
    assert 1500 < display_rating(winner.ordinal) <= 1700


def test_it_is_never_negative_and_keeps_the_order_of_the_ordinals():
    assert display_rating(-1000.0) == 0
    values = [display_rating(o) for o in (-70.0, -12.4, -3.1, 0.0, 0.04, 2.47, 30.0)]
    assert values == sorted(values)
    assert values[0] == 0 and values[-1] == 2250


def test_halves_round_up_as_the_browser_rounds():
    # render.js computes Math.round(1500 + 25 * ordinal): 0.5 goes up, -0.5 goes up too.
    assert display_rating(0.02) == 1501  # 1500.5
    assert display_rating(-0.02) == 1500  # 1499.5
    assert display_rating(0.1) == 1503  # 1502.5


@pytest.mark.django_db
def test_the_api_gives_the_display_rating_beside_the_ordinal(player_factory):
    player = player_factory("Rated", rating_ordinal=-3.1)
    me = client_for(player).get("/api/me/").json()["player"]
    assert me["rating"] == -3.1 and me["display_rating"] == 1423


@pytest.mark.django_db
def test_profile_and_leaderboard_show_the_display_rating_and_game_names(
    client, player_factory, match_factory
):
    alice = player_factory("Alicia")
    bob = player_factory("Bobby")
    match_factory("connect_four", players=[alice, bob], status="finished")
    alice.refresh_from_db()
    shown = str(display_rating(alice.rating_ordinal))
    profile = client.get(f"/players/{alice.pk}/").content.decode()
    assert f"<dd data-rating>{shown}</dd>" in profile
    assert "Connect Four" in profile and ">connect_four<" not in profile
    board = client.get("/leaderboard/").content.decode()
    assert f"<td>{shown}</td>" in board
    assert "Everyone starts at 1500" in board
