"""Roles in the admin: what a superuser, an operator and a moderator may and may not do.

The groups come from `manage.py create_roles`, as on a real site; the accounts
are staff users put in a group. History stays read-only for all three.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from games import services
from games.models import Match, MatchStatus, Participant, Player

pytestmark = pytest.mark.django_db


def staff_client(role: str, username: str | None = None) -> Client:
    """A logged-in staff account in the group `role` (the groups are created if needed)."""
    call_command("create_roles", stdout=io.StringIO())
    name = username or f"{role}-on-duty"
    user = User.objects.create_user(name, password="role-pass-42", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def moderator() -> Client:
    return staff_client("moderator")


@pytest.fixture
def operator() -> Client:
    return staff_client("operator")


def ban(client: Client, player: Player, length: str, reason: str = "spam") -> str:
    form = {
        "action": "ban_players",
        "_selected_action": [player.pk],
        "apply": "1",
        "reason": reason,
        "length": length,
    }
    return client.post("/admin/games/player/", form, follow=True).content.decode()


def unban(client: Client, player: Player) -> str:
    form = {"action": "unban_players", "_selected_action": [player.pk]}
    return client.post("/admin/games/player/", form, follow=True).content.decode()


def abort(client: Client, match: Match) -> str:
    form = {
        "action": "abort_matches",
        "_selected_action": [str(match.pk)],
        "apply": "1",
        "reason": "stuck",
    }
    return client.post("/admin/games/match/", form, follow=True).content.decode()


# --- create_roles -----------------------------------------------------------------


def perms(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return set(group.permissions.values_list("codename", flat=True))


VIEW = {
    "view_player",
    "view_match",
    "view_participant",
    "view_auditentry",
    "view_report",
    "view_chatline",
}
MODERATOR = VIEW | {"handle_report", "ban_temporarily", "kick_player", "message_match"}
OPERATOR = MODERATOR | {"ban_permanently", "abort_match", "clear_cooldown", "broadcast"}


def test_create_roles_makes_the_two_groups_and_is_idempotent(capsys):
    call_command("create_roles")
    assert "Created moderator" in capsys.readouterr().out
    assert perms("moderator") == MODERATOR
    assert perms("operator") == OPERATOR
    # Changed by hand, then run again: the same two groups, with their permissions back.
    moderator = Group.objects.get(name="moderator")
    moderator.permissions.add(Permission.objects.get(codename="delete_player"))
    Group.objects.get(name="operator").permissions.clear()
    call_command("create_roles")
    assert "Updated moderator" in capsys.readouterr().out
    assert Group.objects.filter(name__in=["moderator", "operator"]).count() == 2
    assert perms("moderator") == MODERATOR
    assert perms("operator") == OPERATOR


# --- moderator -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/games/player/",
        "/admin/games/match/",
        "/admin/games/participant/",
        "/admin/games/auditentry/",
        "/admin/games/match/live/",
        "/admin/games/report/",
        "/admin/games/chatline/",
    ],
)
@pytest.mark.parametrize("role", ["moderator", "operator"])
def test_moderators_and_operators_see_the_games_and_the_log(role, url):
    assert staff_client(role).get(url).status_code == 200


@pytest.mark.parametrize(
    "url", ["/admin/auth/user/", "/admin/auth/group/", "/admin/auth/user/add/"]
)
@pytest.mark.parametrize("role", ["moderator", "operator"])
def test_only_superusers_manage_accounts_and_roles(role, url, admin_client_):
    assert staff_client(role).get(url).status_code == 403
    assert admin_client_.get(url).status_code == 200


def test_roles_are_refused_accounts_even_when_a_group_is_given_the_permission():
    client = staff_client("operator")
    Group.objects.get(name="operator").permissions.add(
        Permission.objects.get(codename="change_user"), Permission.objects.get(codename="view_user")
    )
    assert client.get("/admin/auth/user/").status_code == 403


def test_a_moderator_bans_for_a_time(moderator, alice):
    page = ban(moderator, alice, "1d")
    assert "Banned 1 player(s)." in page
    alice.refresh_from_db()
    assert alice.ban_in_force() and alice.banned_until is not None


def test_a_moderator_may_not_ban_permanently(moderator, alice):
    offered = moderator.post(
        "/admin/games/player/", {"action": "ban_players", "_selected_action": [alice.pk]}
    ).content.decode()
    assert ">7 days</option>" in offered and "Permanent" not in offered
    page = ban(moderator, alice, "permanent")  # posted anyway
    assert "Select a valid choice" in page
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_a_moderator_may_not_shorten_or_lift_a_permanent_ban(moderator, alice):
    services.ban_player(alice, "cheating")
    assert "only an operator may change: Alice" in ban(moderator, alice, "1h")
    assert "only an operator may change: Alice" in unban(moderator, alice)
    alice.refresh_from_db()
    assert alice.is_banned and alice.banned_until is None and alice.ban_reason == "cheating"


def test_a_moderator_lifts_a_temporary_ban(moderator, alice):
    services.ban_player(alice, "spam", until=timezone.now() + timedelta(hours=1))
    assert "Unbanned 1 player(s)." in unban(moderator, alice)
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_a_moderator_may_not_abort(moderator, match_factory):
    match = match_factory(status="active")
    changelist = moderator.get("/admin/games/match/").content.decode()
    assert "abort_matches" not in changelist
    abort(moderator, match)
    assert Match.objects.get(pk=match.pk).status == MatchStatus.ACTIVE


def test_a_moderator_may_not_delete_or_edit_players(moderator, player_factory):
    newcomer = player_factory("Newcomer")  # no history
    assert moderator.get(f"/admin/games/player/{newcomer.pk}/delete/").status_code == 403
    page = moderator.get(f"/admin/games/player/{newcomer.pk}/change/").content.decode()
    assert 'name="display_name"' not in page
    moderator.post(f"/admin/games/player/{newcomer.pk}/change/", {"display_name": "Renamed"})
    assert Player.objects.get(pk=newcomer.pk).display_name == "Newcomer"


# --- operator --------------------------------------------------------------------------


def test_an_operator_bans_permanently_and_lifts_any_ban(operator, alice):
    assert "Banned 1 player(s)." in ban(operator, alice, "permanent")
    alice.refresh_from_db()
    assert alice.is_banned and alice.banned_until is None
    assert "Unbanned 1 player(s)." in unban(operator, alice)
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_an_operator_aborts(operator, match_factory):
    match = match_factory(status="active")
    assert "Aborted 1 match(es)." in abort(operator, match)
    assert Match.objects.get(pk=match.pk).status == MatchStatus.ABORTED


def test_an_operator_may_not_delete_players(operator, player_factory):
    newcomer = player_factory("Newcomer")
    assert operator.get(f"/admin/games/player/{newcomer.pk}/delete/").status_code == 403


# --- everybody, superusers included: history is read-only -------------------------------

CLIENTS = ["admin_client_", "operator", "moderator"]


@pytest.mark.parametrize("who", CLIENTS)
def test_nobody_adds_edits_or_deletes_matches(who, request, match_factory):
    client = request.getfixturevalue(who)
    match = match_factory(status="finished")
    assert client.get("/admin/games/match/add/").status_code == 403
    assert client.get(f"/admin/games/match/{match.pk}/delete/").status_code == 403
    page = client.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "/delete/" not in page
    client.post(f"/admin/games/match/{match.pk}/change/", {"status": "aborted", "seed": 1})
    bulk = {"action": "delete_selected", "_selected_action": [str(match.pk)], "post": "yes"}
    client.post("/admin/games/match/", bulk)
    stored = Match.objects.get(pk=match.pk)
    assert stored.status == MatchStatus.FINISHED and stored.seed == match.seed


@pytest.mark.parametrize("who", CLIENTS)
def test_nobody_adds_edits_or_deletes_participants(who, request, match_factory):
    client = request.getfixturevalue(who)
    match = match_factory(status="finished")
    seat = match.participants.get(seat=0)
    assert client.get("/admin/games/participant/add/").status_code == 403
    assert client.get(f"/admin/games/participant/{seat.pk}/delete/").status_code == 403
    client.post(f"/admin/games/participant/{seat.pk}/change/", {"score": 99, "outcome": "loss"})
    bulk = {"action": "delete_selected", "_selected_action": [seat.pk], "post": "yes"}
    client.post("/admin/games/participant/", bulk)
    stored = Participant.objects.get(pk=seat.pk)
    assert (stored.score, stored.outcome) == (seat.score, "win")


@pytest.mark.parametrize("who", CLIENTS)
def test_nobody_adds_players_by_hand(who, request):
    client = request.getfixturevalue(who)
    assert client.get("/admin/games/player/add/").status_code == 403


def test_a_superuser_cannot_delete_a_player_with_history(admin_client_, match_factory, alice, bob):
    match_factory(players=[alice, bob], status="finished")
    assert admin_client_.get(f"/admin/games/player/{alice.pk}/delete/").status_code == 403
    page = admin_client_.get(f"/admin/games/player/{alice.pk}/change/").content.decode()
    assert f"/admin/games/player/{alice.pk}/delete/" not in page
    bulk = {"action": "delete_selected", "_selected_action": [alice.pk], "post": "yes"}
    refused = admin_client_.post("/admin/games/player/", bulk).content.decode()
    assert "Cannot delete player" in refused
    assert Player.objects.filter(pk=alice.pk).exists()


def test_a_superuser_may_delete_a_player_without_history(admin_client_, player_factory):
    newcomer = player_factory("Newcomer")
    response = admin_client_.post(f"/admin/games/player/{newcomer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Player.objects.filter(pk=newcomer.pk).exists()


def test_staff_without_a_role_sees_none_of_it(alice):
    client = staff_client("moderator")
    User.objects.filter(username="moderator-on-duty").get().groups.clear()
    for url in ("/admin/games/player/", "/admin/games/match/live/", "/admin/games/auditentry/"):
        assert client.get(url).status_code == 403, url
    ban(client, alice, "1h")
    assert not Player.objects.get(pk=alice.pk).is_banned
