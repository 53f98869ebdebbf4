"""Sign-up, log-in, log-out, guest play and saving a guest account, through the pages."""

import pytest
from django.contrib.auth.models import User

from games import services
from games.models import Player
from games.services.ratings import display_rating

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-77"


def test_signup_creates_a_user_with_a_player_and_logs_in(client):
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "display_name": "Carol the Bold",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    player = Player.objects.get(user__username="carol")
    assert player.display_name == "Carol the Bold" and not player.is_guest
    assert "Carol the Bold" in client.get("/").content.decode()


def test_signup_refuses_a_taken_display_name(client, alice):
    response = client.post(
        "/signup/",
        {"username": "x", "display_name": "alice", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "That display name is taken." in response.content.decode()
    assert not User.objects.filter(username="x").exists()


def test_signup_refuses_a_weak_password(client):
    response = client.post(
        "/signup/",
        {"username": "dave", "display_name": "Dave", "password1": "123", "password2": "123"},
    )
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


def test_auth_pages_render_in_the_site_look(client):
    for url in ("/signup/", "/login/"):
        page = client.get(url).content.decode()
        assert "site.css" in page and "<form" in page


def test_login_and_logout(client, player_factory):
    player_factory("Erin", password=PASSWORD)
    username = Player.objects.get(display_name="Erin").user.username
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/me/").status_code == 200
    assert Player.objects.get(display_name="Erin").last_seen is not None
    assert client.post("/logout/").status_code == 302
    assert client.get("/api/me/").status_code == 401


def test_login_with_a_wrong_password_says_so(client, player_factory):
    player = player_factory("Finn", password=PASSWORD)
    response = client.post("/login/", {"username": player.user.username, "password": "nope"})
    assert (
        response.status_code == 200 and "correct username and password" in response.content.decode()
    )


def test_play_as_guest_is_one_click(client):
    response = client.post("/guest/")
    assert response.status_code == 302
    me = client.get("/api/me/").json()["player"]
    assert me["is_guest"] is True and me["display_name"]
    assert "Save account" in client.get("/").content.decode()


def test_guest_play_needs_post(client):
    assert client.get("/guest/").status_code == 405


def test_a_guest_saves_the_account_and_keeps_the_history(client, match_factory, bob):
    client.post("/guest/")
    guest = Player.objects.get(is_guest=True)
    match_factory(players=[guest, bob], status="finished")

    response = client.post(
        "/account/save/", {"username": "gina", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    guest.refresh_from_db()
    assert not guest.is_guest and guest.user.username == "gina" and guest.wins == 1
    # Still logged in after the password change, and the password works.
    assert client.get("/api/me/").json()["player"]["id"] == guest.pk
    client.post("/logout/")
    response = client.post("/login/", {"username": "gina", "password": PASSWORD})
    assert response.status_code == 302


def test_saving_needs_a_free_username(client, player_factory):
    taken = player_factory("Hank").user.username
    client.post("/guest/")
    response = client.post(
        "/account/save/", {"username": taken, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert Player.objects.get(is_guest=True)


def test_registered_players_have_nothing_to_save(alice_client, alice):
    response = alice_client.get("/account/save/")
    assert response.status_code == 302 and response["Location"] == f"/players/{alice.pk}/"


def test_profile_shows_rating_counts_and_recent_matches(client, match_factory, alice, bob):
    match_factory(players=[alice, bob], status="finished")
    alice.refresh_from_db()
    page = client.get(f"/players/{alice.pk}/").content.decode()
    # The rating people are shown (1500 to start), and the game by its name.
    assert "Alice" in page and str(display_rating(alice.rating_ordinal)) in page
    assert "Win" in page and "Connect Four" in page


def test_my_profile_redirects_to_mine(alice_client, alice):
    assert alice_client.get("/me/")["Location"] == f"/players/{alice.pk}/"


def test_superuser_gets_a_player_on_first_use(admin_client_):
    me = admin_client_.get("/api/me/").json()["player"]
    assert me["display_name"] == "operator"


def test_leaderboard_page_lists_rated_players(client, player_factory):
    player_factory("Ivy", matches_played=2, rating_ordinal=3.5)
    page = client.get("/leaderboard/").content.decode()
    assert "Ivy" in page and "1588" in page  # 1500 + 25 a point of the ordinal


def test_home_lists_open_matches_and_games(client, match_factory, alice):
    match_factory("arena", players=[alice], max_players=4)
    page = client.get("/").content.decode()
    assert "Connect Four" in page and "Arena" in page and "1/4" in page
    assert "Play as guest" in page


def test_profile_marks_banned_players(alice_client, alice):
    services.ban_player(alice, "abusive chat")
    page = alice_client.get(f"/players/{alice.pk}/").content.decode()
    assert 'badge danger">banned' in page
