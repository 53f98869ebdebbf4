"""The audit log: every operator action leaves one entry (who, when, what, on what, why),
written with the action or not at all; nobody can change or delete an entry, and
an entry outlives the operator's account."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from games import services
from games.models import AuditAction, AuditEntry, AuditLogIsAppendOnly, MatchStatus, Player
from tests.test_roles import abort, ban, staff_client, unban

pytestmark = pytest.mark.django_db


def entries() -> list[tuple[str, str, str, str, str]]:
    return [
        (e.actor_name, e.action, e.target_type, e.target_name, e.reason)
        for e in AuditEntry.objects.order_by("at", "id")
    ]


def test_every_admin_action_is_in_the_log_with_who_what_and_why(match_factory, alice):
    operator = staff_client("operator", "olga")
    moderator = staff_client("moderator", "mo")
    match = match_factory(status="active")
    before = timezone.now()
    ban(moderator, alice, "1d", reason="spam")
    unban(moderator, alice)
    ban(operator, alice, "permanent", reason="cheating")
    abort(operator, match)
    assert entries() == [
        ("mo", "ban", "player", "Alice", "spam"),
        ("mo", "unban", "player", "Alice", ""),
        ("olga", "ban", "player", "Alice", "cheating"),
        ("olga", "abort", "match", f"connect_four {str(match.pk)[:8]}", "stuck"),
    ]
    first, _, permanent, aborted = AuditEntry.objects.order_by("at", "id")
    assert first.at >= before and first.actor == User.objects.get(username="mo")
    assert first.target_id == str(alice.pk) and aborted.target_id == str(match.pk)
    assert (
        timedelta(hours=23)
        < datetime.fromisoformat(first.details["until"]) - before
        < timedelta(hours=25)
    )
    assert permanent.details == {"permanent": True}


def test_the_log_page_lists_entries_with_filters(admin_client_, alice, bob):
    moderator = staff_client("moderator", "mo")
    ban(moderator, alice, "1h", reason="spam")
    services.ban_player(bob, "cheating")  # from a script: "system"
    page = admin_client_.get("/admin/games/auditentry/").content.decode()
    assert "mo" in page and "system" in page and "spam" in page and "permanent" in page
    assert f'href="/admin/games/player/{alice.pk}/change/"' in page
    mine = admin_client_.get("/admin/games/auditentry/?actor=mo").content.decode()
    assert "spam" in mine and "cheating" not in mine
    bans = admin_client_.get("/admin/games/auditentry/?action__exact=unban").content.decode()
    assert "spam" not in bans and "cheating" not in bans


def test_a_refused_action_writes_no_entry(admin_client_, match_factory):
    done = match_factory(status="finished")
    page = abort(admin_client_, done)
    assert "Already over, not aborted" in page
    assert not AuditEntry.objects.exists()


@pytest.mark.pg
def test_an_action_and_its_entry_commit_together(alice, monkeypatch):
    # The entry fails to write: the ban is not stored either.
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AuditEntry.objects, "create", broken)
    with pytest.raises(RuntimeError):
        services.ban_player(alice, "cheating")
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_an_unban_of_a_player_not_banned_writes_nothing(alice):
    assert services.unban_player(alice) is False
    assert not AuditEntry.objects.exists()


@pytest.mark.pg
def test_entries_outlive_the_operators_account(alice):
    client = staff_client("operator", "leaving")
    ban(client, alice, "1d")
    User.objects.get(username="leaving").delete()
    entry = AuditEntry.objects.get()
    assert entry.actor is None and entry.actor_name == "leaving"


@pytest.mark.pg
def test_entries_cannot_be_changed_or_deleted_in_code(alice):
    services.ban_player(alice, "cheating")
    entry = AuditEntry.objects.get()
    entry.reason = "nothing happened"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="nothing happened")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().reason == "cheating"


@pytest.mark.parametrize("who", ["superuser", "operator", "moderator"])
def test_the_admin_refuses_to_add_change_or_delete_entries(who, admin_client_, alice):
    client = admin_client_ if who == "superuser" else staff_client(who)
    services.ban_player(alice, "cheating")
    entry = AuditEntry.objects.get()
    assert client.get("/admin/games/auditentry/add/").status_code == 403
    assert client.post("/admin/games/auditentry/add/", {"reason": "x"}).status_code == 403
    assert client.get(f"/admin/games/auditentry/{entry.pk}/delete/").status_code == 403
    assert (
        client.post(f"/admin/games/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    page = client.get(f"/admin/games/auditentry/{entry.pk}/change/").content.decode()
    assert 'name="reason"' not in page and 'name="_save"' not in page
    client.post(f"/admin/games/auditentry/{entry.pk}/change/", {"reason": "nothing happened"})
    bulk = {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    client.post("/admin/games/auditentry/", bulk)
    stored = AuditEntry.objects.get()
    assert (stored.reason, stored.action) == ("cheating", AuditAction.BAN)


def test_an_abort_entry_matches_the_match_stored(match_factory):
    match = match_factory(status="active")
    services.abort_match_by_operator(match.pk, "server restart", by=None)
    match.refresh_from_db()
    assert match.status == MatchStatus.ABORTED
    assert entries() == [
        ("system", "abort", "match", f"connect_four {str(match.pk)[:8]}", "server restart")
    ]


def test_a_player_page_links_to_the_entries_about_them(admin_client_, alice, bob):
    services.ban_player(alice, "spam", until=timezone.now() + timedelta(hours=1))
    services.unban_player(alice)
    services.ban_player(bob, "cheating")
    page = admin_client_.get(f"/admin/games/player/{alice.pk}/change/").content.decode()
    link = f"/admin/games/auditentry/?target_type=player&amp;target_id={alice.pk}"
    assert f'<a href="{link}">2 entries</a>' in page
    listed = admin_client_.get(link.replace("&amp;", "&")).content.decode()
    assert "spam" in listed and "cheating" not in listed
    other = admin_client_.get(f"/admin/games/player/{bob.pk}/change/").content.decode()
    assert "1 entry</a>" in other


def test_the_admin_index_links_live_now_and_the_log():
    page = staff_client("moderator").get("/admin/").content.decode()
    assert 'href="/admin/games/match/live/">Live now</a>' in page
    assert 'href="/admin/games/auditentry/">Audit log</a>' in page
