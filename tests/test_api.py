"""The JSON lobby API: every endpoint, its success and its errors."""

import json

import pytest
from django.test import Client

from games import services
from games.models import Match, MatchStatus
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def error_code(response):
    return response.json()["error"]["code"]


# --- games and me ----------------------------------------------------------------------


def test_games_lists_both_games_with_their_sizes(client):
    games = {g["key"]: g for g in client.get("/api/games/").json()["games"]}
    assert games["connect_four"]["max_players"] == 2
    assert games["arena"]["max_players"] == 8 and games["arena"]["tick_rate"] == 20


def test_me_needs_a_login(client):
    response = client.get("/api/me/")
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_me_shows_the_player(alice_client, alice):
    assert alice_client.get("/api/me/").json()["player"]["display_name"] == "Alice"


# --- create ----------------------------------------------------------------------------


def test_create_match_returns_it_with_the_creator_seated(alice_client):
    response = post(alice_client, "/api/matches/", {"game": "arena", "max_players": 4})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "waiting" and body["max_players"] == 4
    assert [p["player"]["display_name"] for p in body["participants"]] == ["Alice"]


def test_create_private_match_shows_the_join_code_to_its_creator(alice_client):
    body = post(alice_client, "/api/matches/", {"game": "connect_four", "private": True}).json()
    assert body["private"] is True and len(body["join_code"]) == 6


def test_create_match_needs_a_login(client):
    response = post(client, "/api/matches/", {"game": "arena"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"game": "chess"}, "invalid_request", "Unknown game"),
        ({"game": "arena", "max_players": 9}, "invalid_request", "2 to 8 players"),
        ({"game": "arena", "max_players": "four"}, "invalid_request", "max_players"),
        ({"game": "arena", "colour": "red"}, "invalid_request", "colour"),
        ({"game": "arena", "settings": {"score_limit": 0}}, "invalid_request", "score_limit"),
        ({}, "invalid_request", "game"),
    ],
)
def test_create_match_explains_bad_requests(alice_client, body, code, words):
    response = post(alice_client, "/api/matches/", body)
    assert response.status_code == 400
    assert error_code(response) == code and words in response.json()["error"]["message"]


def test_create_match_refuses_malformed_json(alice_client):
    response = alice_client.post("/api/matches/", "{nope", content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid_json"


def test_create_match_refuses_banned_players(alice, alice_client):
    services.ban_player(alice, "griefing")
    response = post(alice_client, "/api/matches/", {"game": "arena"})
    assert response.status_code == 403 and "griefing" in response.json()["error"]["message"]


def test_create_match_needs_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    response = post(client, "/api/matches/", {"game": "arena"})
    assert response.status_code == 403 and error_code(response) == "csrf_failed"
    token = client.get("/api/me/").cookies.get("csrftoken")
    assert token is not None, "GET /api/me/ hands out the CSRF cookie"
    response = client.post(
        "/api/matches/",
        json.dumps({"game": "arena"}),
        content_type="application/json",
        headers={"X-CSRFToken": token.value},
    )
    assert response.status_code == 201


# --- list ------------------------------------------------------------------------------


def test_open_matches_lists_only_public_waiting_matches_of_the_game(client, match_factory):
    open_arena = match_factory("arena", seats=2, max_players=4)
    match_factory("arena", seats=2, max_players=4, is_private=True)
    match_factory("arena", seats=2, status="active")
    match_factory("connect_four", seats=1)
    body = client.get("/api/matches/?game=arena").json()
    assert [m["id"] for m in body["results"]] == [str(open_arena.id)]
    assert body["count"] == 1 and "join_code" not in body["results"][0]


def test_open_matches_needs_a_game(client):
    response = client.get("/api/matches/")
    assert response.status_code == 400 and "connect_four" in response.json()["error"]["message"]


@pytest.mark.parametrize("query", ["page=abc", "page_size=0", "page_size=101"])
def test_pagination_refuses_bad_numbers(client, query):
    response = client.get(f"/api/matches/?game=arena&{query}")
    assert response.status_code == 400 and error_code(response) == "invalid_page"


def test_pagination_says_when_a_page_does_not_exist(client):
    response = client.get("/api/leaderboard/?page=3")
    assert response.status_code == 404 and error_code(response) == "page_not_found"


def test_wrong_method_is_refused_with_allow_header(client):
    response = client.delete("/api/matches/")
    assert response.status_code == 405 and response["Allow"] == "GET, POST"


# --- join -------------------------------------------------------------------------------


def test_join_public_match(match_factory, bob):
    match = match_factory("arena", seats=1, max_players=3)
    response = client_for(bob).post(f"/api/matches/{match.id}/join/")
    assert response.status_code == 200
    assert [p["seat"] for p in response.json()["participants"]] == [0, 1]


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("full", 409, "match_full"),
        ("started", 409, "match_not_joinable"),
        ("seated", 409, "already_seated"),
        ("missing", 404, "match_not_found"),
        ("private", 404, "match_not_found"),
    ],
)
def test_join_public_match_refusals(match_factory, alice, bob, setup, status, code):
    if setup == "full":
        match = match_factory(seats=2)
    elif setup == "started":
        match = match_factory("arena", seats=2, status="active")
    elif setup == "seated":
        match = match_factory("arena", players=[alice, bob])
    elif setup == "private":
        match = match_factory("arena", seats=1, is_private=True)
    else:
        match = Match(id="00000000-0000-0000-0000-000000000000")
    response = client_for(bob).post(f"/api/matches/{match.id}/join/")
    assert response.status_code == status and error_code(response) == code


def test_join_by_code(match_factory, bob):
    match = match_factory("connect_four", seats=1, is_private=True)
    response = post(client_for(bob), "/api/matches/join/", {"code": match.join_code})
    assert response.status_code == 200
    assert response.json()["id"] == str(match.id)
    assert response.json()["join_code"] == match.join_code


def test_join_by_unknown_code(bob):
    response = post(client_for(bob), "/api/matches/join/", {"code": "ZZZZZZ"})
    assert response.status_code == 404 and "join code" in response.json()["error"]["message"]


def test_join_by_code_needs_a_code(bob):
    response = post(client_for(bob), "/api/matches/join/", {})
    assert response.status_code == 400 and "code" in response.json()["error"]["message"]


def test_leave_before_start(match_factory, alice, bob):
    match = match_factory("arena", players=[alice, bob])
    assert client_for(bob).post(f"/api/matches/{match.id}/leave/").status_code == 204
    assert list(match.participants.values_list("seat", flat=True)) == [0]


def test_leave_a_started_match_is_refused(match_factory, alice, bob):
    match = match_factory("arena", players=[alice, bob], status="active")
    response = client_for(bob).post(f"/api/matches/{match.id}/leave/")
    assert response.status_code == 409
    assert Match.objects.get(pk=match.pk).status == MatchStatus.ACTIVE


# --- detail -------------------------------------------------------------------------------


def test_match_detail_shows_participants_and_result(client, match_factory):
    match = match_factory(status="finished")
    body = client.get(f"/api/matches/{match.id}/").json()
    assert body["status"] == "finished" and body["result"]["summary"] == "Seat 0 wins."
    assert [p["outcome"] for p in body["participants"]] == ["win", "loss"]


def test_private_match_detail_is_hidden_from_strangers(match_factory, stranger, alice):
    match = match_factory("arena", players=[alice], is_private=True)
    assert client_for(stranger).get(f"/api/matches/{match.id}/").status_code == 404
    body = client_for(alice).get(f"/api/matches/{match.id}/").json()
    assert body["join_code"] == match.join_code


def test_match_detail_of_unknown_match(client):
    response = client.get("/api/matches/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404 and error_code(response) == "match_not_found"


# --- leaderboard and history -----------------------------------------------------------------


def test_leaderboard_ranks_rated_unbanned_players(client, player_factory):
    top = player_factory("Top", matches_played=3, rating_ordinal=12.0)
    second = player_factory("Second", matches_played=3, rating_ordinal=4.0)
    player_factory("Unrated")
    banned = player_factory("Banned", matches_played=3, rating_ordinal=50.0)
    services.ban_player(banned, "cheat")
    body = client.get("/api/leaderboard/?page_size=1&page=2").json()
    assert body["count"] == 2 and body["pages"] == 2
    assert body["results"][0]["rank"] == 2 and body["results"][0]["id"] == second.pk
    first_page = client.get("/api/leaderboard/").json()["results"]
    assert [r["id"] for r in first_page] == [top.pk, second.pk]


def test_player_history_newest_first(client, match_factory, alice, bob):
    first = match_factory(players=[alice, bob], status="finished")
    second = match_factory("arena", players=[bob, alice], status="finished")
    body = client.get(f"/api/players/{alice.pk}/matches/").json()
    assert [r["match"]["id"] for r in body["results"]] == [str(second.id), str(first.id)]
    assert body["results"][1]["outcome"] == "win"


def test_player_history_hides_private_matches_from_others(client, match_factory, alice, bob):
    match_factory(players=[alice, bob], status="finished", is_private=True)
    assert client.get(f"/api/players/{alice.pk}/matches/").json()["count"] == 0
    assert client_for(alice).get(f"/api/players/{alice.pk}/matches/").json()["count"] == 1


def test_unknown_player(client):
    response = client.get("/api/players/999999/matches/")
    assert response.status_code == 404 and error_code(response) == "player_not_found"
    assert client.get("/api/players/999999/").status_code == 404


def test_player_detail(client, alice):
    assert client.get(f"/api/players/{alice.pk}/").json()["player"]["display_name"] == "Alice"


# --- lobby and quick join ("Play now" without a lobby socket) -------------------------------


def test_lobby_lists_open_matches_of_every_game(client, match_factory):
    arena = match_factory("arena", seats=1, max_players=4)
    body = client.get("/api/lobby/").json()
    games = {g["key"]: g for g in body["games"]}
    assert [m["id"] for m in games["arena"]["open"]] == [str(arena.id)]
    assert games["connect_four"]["open"] == [] and body["online"] == 0


def test_quick_join_joins_the_oldest_open_match_with_a_free_seat(match_factory, bob, stranger):
    older = match_factory("arena", seats=1, max_players=3)
    match_factory("arena", seats=1, max_players=3)
    joined = post(client_for(bob), "/api/play/", {"game": "arena"}).json()
    assert joined["id"] == str(older.id)
    # Asking again returns the same match: a player waits in one match at a time.
    again = post(client_for(bob), "/api/play/", {"game": "arena"}).json()
    assert again["id"] == str(older.id)


def test_quick_join_creates_a_match_when_none_is_open(bob):
    body = post(client_for(bob), "/api/play/", {"game": "connect_four"}).json()
    assert body["status"] == "waiting"
    assert [p["player"]["id"] for p in body["participants"]] == [bob.pk]


def test_quick_join_refuses_a_player_seated_in_a_match_in_progress(match_factory, alice, bob):
    # The queue's rule: one match at a time, so no waiting match beside a running one.
    playing = match_factory("arena", players=[alice, bob], status="active")
    response = post(client_for(alice), "/api/play/", {"game": "connect_four"})
    assert response.status_code == 409 and error_code(response) == "in_match"
    assert "playing a match already" in response.json()["error"]["message"]
    assert list(Match.objects.exclude(pk=playing.pk)) == []
    services.abort_match(playing.pk, "Over.")
    assert post(client_for(alice), "/api/play/", {"game": "connect_four"}).status_code == 200


def test_quick_join_needs_a_known_game_and_a_login(client, bob):
    assert post(client, "/api/play/", {"game": "arena"}).status_code == 401
    response = post(client_for(bob), "/api/play/", {"game": "chess"})
    assert response.status_code == 400 and "Unknown game" in response.json()["error"]["message"]
