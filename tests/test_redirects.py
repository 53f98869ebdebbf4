"""The `next` of every form may only lead back to this site; anything else goes to the lobby."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-77"
FOREIGN = [
    "https://evil.example/",
    "//evil.example/",
    "http://evil.example",
    "https:evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", FOREIGN)
def test_guest_play_does_not_follow_a_foreign_next(client, target):
    response = client.post("/guest/", {"next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_guest_play_follows_a_next_on_this_site(client):
    response = client.post("/guest/", {"next": "/leaderboard/"})
    assert response["Location"] == "/leaderboard/"


@pytest.mark.parametrize("target", FOREIGN)
def test_login_does_not_follow_a_foreign_next(client, player_factory, target):
    username = player_factory("Erin", password=PASSWORD).user.username
    page = client.get("/login/", {"next": target}).content.decode()
    assert "evil.example" not in page and "javascript:" not in page
    response = client.post("/login/", {"username": username, "password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_login_follows_a_next_on_this_site(client, player_factory):
    username = player_factory("Erin", password=PASSWORD).user.username
    response = client.post(
        "/login/", {"username": username, "password": PASSWORD, "next": "/leaderboard/"}
    )
    assert response["Location"] == "/leaderboard/"


@pytest.mark.parametrize("target", FOREIGN)
def test_logout_does_not_follow_a_foreign_next(alice_client, target):
    response = alice_client.post("/logout/", {"next": target})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize("target", FOREIGN)
def test_signup_does_not_follow_a_foreign_next(client, target):
    form = {"username": "carol", "display_name": "Carol", "password1": PASSWORD}
    page = client.get("/signup/", {"next": target}).content.decode()
    assert "evil.example" not in page and "javascript:" not in page
    response = client.post("/signup/", {**form, "password2": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_signup_keeps_a_next_on_this_site(client):
    page = client.get("/signup/", {"next": "/leaderboard/"}).content.decode()
    assert 'name="next" value="/leaderboard/"' in page
    form = {"username": "carol", "display_name": "Carol", "password1": PASSWORD}
    response = client.post("/signup/", {**form, "password2": PASSWORD, "next": "/leaderboard/"})
    assert response["Location"] == "/leaderboard/"


@pytest.mark.parametrize("target", FOREIGN)
def test_admin_login_does_not_follow_a_foreign_next(client, target):
    User.objects.create_superuser("operator", "op@example.com", PASSWORD)
    response = client.post(
        "/admin/login/", {"username": "operator", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and "evil.example" not in response["Location"]
    assert not response["Location"].startswith("javascript:")
