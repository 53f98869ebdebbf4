"""One rule, every front door: a player seated in a match in progress takes no new seat.

The matchmaking queue (lobby socket) and the quick join refused them already; the
JSON API's create, join and join-by-code refuse them the same way: 409 `in_match`.
"""

import pytest

from games import services
from games.models import Match
from tests.conftest import client_for
from tests.test_api import error_code, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def playing(match_factory, alice, bob):
    return match_factory("arena", players=[alice, bob], status="active")


@pytest.mark.parametrize(
    "body",
    [{"game": "connect_four"}, {"game": "arena", "private": True}],
    ids=["public", "private"],
)
def test_creating_a_match_is_refused_while_playing_one(playing, alice, body):
    response = post(client_for(alice), "/api/matches/", body)
    assert response.status_code == 409 and error_code(response) == "in_match"
    assert "playing a match already" in response.json()["error"]["message"]
    assert list(Match.objects.exclude(pk=playing.pk)) == []


def test_joining_by_id_or_code_is_refused_while_playing_one(playing, alice, stranger):
    open_ = services.create_match(stranger, "arena")
    private = services.create_match(stranger, "connect_four", is_private=True)
    client = client_for(alice)
    by_id = post(client, f"/api/matches/{open_.pk}/join/")
    by_code = post(client, "/api/matches/join/", {"code": private.join_code})
    for response in (by_id, by_code):
        assert response.status_code == 409 and error_code(response) == "in_match"
    assert open_.participants.count() == private.participants.count() == 1


def test_a_player_whose_match_is_over_may_create_again(playing, alice):
    services.abort_match(playing.pk, "Over.")
    response = post(client_for(alice), "/api/matches/", {"game": "connect_four"})
    assert response.status_code == 201


def test_the_other_players_are_not_affected(playing, stranger):
    response = post(client_for(stranger), "/api/matches/", {"game": "connect_four"})
    assert response.status_code == 201
