"""Temporary bans end by themselves, where a ban is checked, and the banned player's page
says why and until when.

"The end passes" is the stored end moved into the past: the same row a real
wait would leave, without waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from games import services
from games.models import AuditEntry, Player
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def ban_for(player: Player, hours: float, reason: str = "spam") -> None:
    services.ban_player(player, reason, until=timezone.now() + timedelta(hours=hours))
    player.refresh_from_db()


def end_passes(player: Player) -> None:
    Player.objects.filter(pk=player.pk).update(banned_until=timezone.now() - timedelta(seconds=1))
    player.refresh_from_db()


def test_a_temporary_ban_refuses_play_and_says_until_when(alice, bob):
    ban_for(bob, 2)
    end = services.format_ban_end(bob.banned_until)
    match = services.create_match(alice, "arena")
    with pytest.raises(services.PlayerBanned) as refused:
        services.join_match(bob, match.pk)
    assert refused.value.message == f"You are banned until {end}: spam"
    assert end.endswith(" UTC") and bob.ban_in_force()


@pytest.mark.pg
def test_a_temporary_ban_ends_by_itself_at_the_next_check(alice, bob):
    ban_for(bob, 2)
    end_passes(bob)
    assert not bob.ban_in_force()
    match = services.create_match(alice, "arena")
    assert services.join_match(bob, match.pk).seat == 1
    stored = Player.objects.get(pk=bob.pk)
    assert not stored.is_banned and stored.banned_until is None and stored.ban_reason == ""
    # Lifting by expiry is not an operator action: the log has the ban only.
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["ban"]


@pytest.mark.pg
def test_a_stale_check_does_not_lift_a_newer_ban(bob):
    ban_for(bob, 2)
    end_passes(bob)
    stale = Player.objects.get(pk=bob.pk)  # read while the old ban had ended
    ban_for(bob, 5, reason="again")
    assert services.lift_expired_ban(stale) is False
    stored = Player.objects.get(pk=bob.pk)
    assert stored.ban_in_force() and stored.ban_reason == "again"
    with pytest.raises(services.PlayerBanned, match="again"):
        services.check_can_play(stale)  # refused with the ban in force


def test_a_stale_check_of_a_ban_lifted_since_lets_the_player_play(alice, bob):
    ban_for(bob, 2)
    end_passes(bob)
    stale = Player.objects.get(pk=bob.pk)
    services.unban_player(bob)
    services.check_can_play(stale)  # no PlayerBanned
    match = services.create_match(alice, "arena")
    assert services.join_match(stale, match.pk).seat == 1


def test_a_ban_must_end_in_the_future(bob):
    with pytest.raises(services.InvalidRequest):
        services.ban_player(bob, "spam", until=timezone.now() - timedelta(minutes=1))
    assert not Player.objects.get(pk=bob.pk).is_banned


def test_logging_in_lifts_an_ended_ban_and_brings_back_the_leaderboard(client, player_factory):
    carol = player_factory("Carol", password="long-carol-pass-91", matches_played=3)
    ban_for(carol, 1)
    assert client.get("/api/leaderboard/").json()["count"] == 0
    end_passes(carol)
    logged_in = client.post(
        "/login/", {"username": carol.user.username, "password": "long-carol-pass-91"}
    )
    assert logged_in.status_code == 302
    assert not Player.objects.get(pk=carol.pk).is_banned
    assert client.get("/api/leaderboard/").json()["count"] == 1


# --- the banned player's page ---------------------------------------------------------


def test_a_banned_player_lands_on_the_banned_page(alice, bob, match_factory):
    ban_for(alice, 3, reason="abusive chat")
    client = client_for(alice)
    assert client.get("/").headers["Location"] == "/banned/"
    match = match_factory(players=[bob], seats=1, game="arena")
    assert client.get(f"/play/{match.pk}/").headers["Location"] == "/banned/"
    page = client.get("/banned/")
    text = page.content.decode()
    assert page.status_code == 403
    assert "You are banned" in text and "abusive chat" in text
    assert "Your ban ends on <strong><time datetime=" in text
    assert services.format_ban_end(alice.banned_until) in text
    assert "(in 2\xa0hours" in text
    assert 'href="/">back to the lobby</a>' in text


def test_a_permanent_ban_says_so(alice):
    services.ban_player(alice, "cheating")
    text = client_for(alice).get("/banned/").content.decode()
    assert "cheating" in text and "This ban is <strong>permanent</strong>" in text
    assert "ends on" not in text


def test_after_the_end_the_way_back_to_the_lobby_opens(alice):
    ban_for(alice, 1)
    client = client_for(alice)
    assert client.get("/").status_code == 302
    end_passes(alice)
    page = client.get("/banned/")
    assert page.status_code == 200 and "You are not banned" in page.content.decode()
    assert 'href="/">Back to the lobby</a>' in page.content.decode()
    assert client.get("/").status_code == 200


def test_the_banned_page_needs_a_login(client):
    assert client.get("/banned/").headers["Location"].startswith("/login/")
