"""Reports, the moderation queue, warnings, mutes and stored chat.

A player reports another from a match they both played; the report reaches the
admin's queue with the match's replay and chat; a moderator claims it and
resolves it (dismiss, warn, mute, ban), each step audited, and the reporter is
told. Chat lines are stored for moderators and pruned after the retention.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from games import services
from games.models import AuditEntry, ChatLine, Match, Notice, Player, Report
from tests.conftest import client_for
from tests.test_roles import staff_client

pytestmark = pytest.mark.django_db


def post_report(client: Client, match: Match, body: dict) -> tuple[int, dict]:
    response = client.post(
        f"/api/matches/{match.pk}/report/", json.dumps(body), content_type="application/json"
    )
    return response.status_code, response.json()


@pytest.fixture
def played(match_factory, alice, bob) -> Match:
    """A finished match of Alice and Bob, with a replay and some chat."""
    match = match_factory(players=[alice, bob], status="active")
    services.record_chat(match.pk, bob.pk, "you are terrible")
    services.record_chat(match.pk, alice.pk, "gg")
    results = [services.SeatRecord(0, "win", 1, 1), services.SeatRecord(1, "loss", 0, 2)]
    replay = services.ReplayData(seats=2, final_tick=3, log=[[1, 0, {"column": 3}]], final_state={})
    services.finish_match(match.pk, results, "Seat 0 wins.", replay=replay)
    return match


# --- Stored chat -------------------------------------------------------------------------


def test_chat_lines_are_stored_with_the_seat_or_as_a_spectator(match_factory, alice, bob, stranger):
    match = match_factory(players=[alice, bob], status="active")
    services.record_chat(match.pk, bob.pk, "  hello  ")
    services.record_chat(match.pk, stranger.pk, "x" * 300)
    lines = list(ChatLine.objects.filter(match=match).order_by("id"))
    assert [(line.player, line.seat, line.text) for line in lines] == [
        (bob, 1, "hello"),
        (stranger, None, "x" * 200),
    ]


def test_an_empty_line_is_refused(match_factory, alice):
    match = match_factory(players=[alice], seats=1)
    with pytest.raises(services.InvalidRequest):
        services.record_chat(match.pk, alice.pk, "   ")
    assert not ChatLine.objects.exists()


@pytest.mark.pg
def test_prune_chat_deletes_lines_past_the_retention(settings, match_factory, alice):
    settings.CHAT_RETENTION_DAYS = 7
    match = match_factory(players=[alice], seats=1)
    old = services.record_chat(match.pk, alice.pk, "old")
    services.record_chat(match.pk, alice.pk, "recent")
    ChatLine.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=8))
    out = io.StringIO()
    call_command("prune_chat", stdout=out)
    assert "Deleted 1 chat line(s) older than 7 day(s)." in out.getvalue()
    assert list(ChatLine.objects.values_list("text", flat=True)) == ["recent"]
    call_command("prune_chat", "--days", "0", stdout=out)
    assert not ChatLine.objects.exists()


# --- Mutes ---------------------------------------------------------------------------------


def test_a_muted_player_is_told_until_when_and_their_line_is_not_stored(match_factory, alice):
    match = match_factory(players=[alice], seats=1)
    until = timezone.now() + timedelta(hours=1)
    services.mute_player(alice, until, "insults", by=None)
    with pytest.raises(services.PlayerMuted) as refused:
        services.record_chat(match.pk, alice.pk, "hello")
    end = services.format_ban_end(until)
    assert refused.value.message == f"You are muted until {end}: insults"
    assert refused.value.code == "muted"
    assert not ChatLine.objects.exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target_name, entry.reason) == ("mute", "Alice", "insults")


def test_a_mute_ends_by_itself(match_factory, alice):
    match = match_factory(players=[alice], seats=1)
    services.mute_player(alice, timezone.now() + timedelta(hours=1), "insults", by=None)
    Player.objects.filter(pk=alice.pk).update(muted_until=timezone.now() - timedelta(seconds=1))
    alice.refresh_from_db()
    services.check_can_chat(alice)
    services.record_chat(match.pk, alice.pk, "hello again")
    assert ChatLine.objects.count() == 1


def test_a_mute_must_end_in_the_future(alice):
    with pytest.raises(services.InvalidRequest):
        services.mute_player(alice, timezone.now(), "x", by=None)


# --- Reporting (the API) ---------------------------------------------------------------------


def test_a_player_reports_another_from_a_match_they_played(played, alice, bob):
    status, body = post_report(
        client_for(alice), played, {"player": bob.pk, "reason": "chat_abuse", "text": "insults"}
    )
    assert status == 201
    assert body["report"]["player"] == bob.pk and body["report"]["status"] == "open"
    report = Report.objects.get()
    assert (report.match, report.reporter, report.reported) == (played, alice, bob)
    assert (report.reason, report.text) == ("chat_abuse", "insults")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"player": "me", "reason": "other"}, 400, "invalid_request"),
        ({"player": 0, "reason": "other"}, 400, "invalid_request"),  # not in the match
        ({"reason": "other"}, 400, "invalid_request"),
        ({"player": None, "reason": "spite"}, 400, "invalid_request"),
        ({"player": None, "reason": "other", "text": "x" * 501}, 400, "invalid_request"),
        ({"player": None, "reason": "other", "extra": 1}, 400, "invalid_request"),
    ],
)
def test_a_bad_report_is_refused_with_a_json_error(played, alice, bob, body, status, code):
    if body.get("player", 1) is None:
        body["player"] = bob.pk
    got, answer = post_report(client_for(alice), played, body)
    assert (got, answer["error"]["code"]) == (status, code)
    assert not Report.objects.exists()


def test_nobody_reports_themselves_or_from_a_match_they_were_not_in(played, alice, stranger):
    assert post_report(client_for(alice), played, {"player": alice.pk, "reason": "other"})[0] == 400
    status, body = post_report(client_for(stranger), played, {"player": alice.pk, "reason": "name"})
    assert (status, body["error"]["code"]) == (404, "match_not_found")
    assert post_report(Client(), played, {"player": alice.pk, "reason": "name"})[0] == 401
    assert not Report.objects.exists()


@pytest.mark.pg
def test_one_report_per_player_per_match(played, alice, bob):
    client = client_for(alice)
    assert post_report(client, played, {"player": bob.pk, "reason": "cheating"})[0] == 201
    status, body = post_report(client, played, {"player": bob.pk, "reason": "name"})
    assert (status, body["error"]["code"]) == (409, "already_reported")
    assert Report.objects.count() == 1


@pytest.mark.pg
def test_five_reports_an_hour(match_factory, alice, player_factory):
    client = client_for(alice)
    for n in range(6):
        other = player_factory()
        match = match_factory(players=[alice, other], status="finished")
        status, body = post_report(client, match, {"player": other.pk, "reason": "other"})
        if n < 5:
            assert status == 201
    assert (status, body["error"]["code"]) == (429, "too_many_reports")
    assert Report.objects.count() == 5
    # An hour later they may report again.
    Report.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    assert post_report(client, match, {"player": other.pk, "reason": "other"})[0] == 201


def test_a_report_from_a_waiting_match_needs_no_result(match_factory, alice, bob):
    match = match_factory(players=[alice, bob])
    assert post_report(client_for(bob), match, {"player": alice.pk, "reason": "name"})[0] == 201


# --- The moderation queue ------------------------------------------------------------------


def report(played: Match, reporter: Player, reported: Player, reason: str = "chat_abuse") -> Report:
    return services.report_player(reporter, played.pk, reported.pk, reason, "they insulted me")


def resolve(client: Client, item: Report, resolution: str, note: str = "be nice", **extra) -> str:
    form = {"resolution": resolution, "note": note, "length": "1d", "resolve": "1", **extra}
    url = f"/admin/games/report/{item.pk}/change/"
    return client.post(url, form, follow=True).content.decode()


def claim(client: Client, item: Report) -> str:
    url = f"/admin/games/report/{item.pk}/change/"
    return client.post(url, {"claim": "1"}, follow=True).content.decode()


@pytest.mark.pg
def test_the_queue_lists_open_reports_oldest_first(played, alice, bob, match_factory):
    first = report(played, alice, bob)
    second = report(played, bob, alice, "name")
    moderator = staff_client("moderator")
    page = moderator.get("/admin/games/report/").content.decode()
    assert page.index(f"/admin/games/report/{first.pk}/") < page.index(
        f"/admin/games/report/{second.pk}/"
    )
    mo = User.objects.get(username="moderator-on-duty")
    services.resolve_report(second.pk, services.Decision("dismiss", "fine"), by=mo)
    page = moderator.get("/admin/games/report/").content.decode()
    assert f"/admin/games/report/{second.pk}/" not in page
    resolved = moderator.get("/admin/games/report/?queue=resolved").content.decode()
    assert f"/admin/games/report/{second.pk}/" in resolved


def test_the_report_page_shows_the_evidence(played, alice, bob, match_factory, stranger):
    earlier = match_factory(players=[bob, stranger], status="finished")
    services.report_player(stranger, earlier.pk, bob.pk, "cheating")
    item = report(played, alice, bob)
    page = staff_client("moderator").get(f"/admin/games/report/{item.pk}/change/").content.decode()
    assert "they insulted me" in page and "Abuse in chat" in page
    assert f'href="/replay/{played.pk}/"' in page  # the replay viewer
    assert "you are terrible" in page and "gg" in page  # the match's chat
    assert "Cheating" in page and "Stranger" in page  # Bob's other report
    assert f"/admin/games/match/{earlier.pk}/change/" in page  # Bob's recent matches
    assert "Seat 1, Alice: win" in page


def test_claiming_assigns_the_report_and_is_audited(played, alice, bob):
    item = report(played, alice, bob)
    assert "You have claimed this report." in claim(staff_client("moderator", "mo"), item)
    item.refresh_from_db()
    assert item.status == "claimed" and item.assigned_to == User.objects.get(username="mo")
    entry = AuditEntry.objects.get()
    assert (entry.actor_name, entry.action, entry.target_name) == ("mo", "claim_report", "Bob")
    # Another moderator takes it over; that is audited too, naming whom from.
    claim(staff_client("moderator", "mia"), item)
    item.refresh_from_db()
    assert item.assigned_to == User.objects.get(username="mia")
    assert AuditEntry.objects.latest("id").details == {"report": item.pk, "taken_from": "mo"}


@pytest.mark.pg
def test_a_warning_is_shown_to_the_player_and_the_reporter_is_told(played, alice, bob):
    item = report(played, alice, bob)
    moderator = staff_client("moderator", "mo")
    claim(moderator, item)
    assert "Resolved: Warn." in resolve(moderator, item, "warn", "Mind your language.")
    item.refresh_from_db()
    assert (item.status, item.resolution, item.resolved_by_name) == ("resolved", "warn", "mo")
    # Bob reads the warning on his next visit, until he acknowledges it.
    bob_client = client_for(bob)
    notices = bob_client.get("/api/notices/").json()["notices"]
    assert [(n["kind"], n["message"]) for n in notices] == [("warning", "Mind your language.")]
    ack = bob_client.post(
        "/api/notices/", json.dumps({"ids": [notices[0]["id"]]}), content_type="application/json"
    )
    assert ack.json() == {"acknowledged": 1}
    assert bob_client.get("/api/notices/").json()["notices"] == []
    # Alice is told it was handled.
    (told,) = client_for(alice).get("/api/notices/").json()["notices"]
    assert told["kind"] == "report_handled"
    assert told["message"] == (
        "Thank you for your report of Bob (connect_four): a moderator reviewed it and acted on it."
    )
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["claim_report", "warn", "resolve_report"]


def test_nobody_acknowledges_anothers_notices(alice, bob):
    notice = services.warn_player(bob, "careful", by=None)
    response = client_for(alice).post(
        "/api/notices/", json.dumps({"ids": [notice.pk]}), content_type="application/json"
    )
    assert response.json() == {"acknowledged": 0}
    assert Notice.objects.get().acknowledged_at is None


def test_a_dismissed_report_tells_the_reporter_no_action_was_taken(played, alice, bob):
    item = report(played, alice, bob)
    resolve(staff_client("moderator"), item, "dismiss", "banter")
    (told,) = services.pending_notices(alice)
    assert told.message.endswith("a moderator reviewed it and took no action.")
    assert not services.pending_notices(bob)
    assert not Player.objects.get(pk=bob.pk).is_banned


def test_a_mute_from_the_queue_stops_the_players_chat(played, alice, bob):
    item = report(played, alice, bob)
    resolve(staff_client("moderator"), item, "mute", "insults", length="1h")
    bob.refresh_from_db()
    with pytest.raises(services.PlayerMuted, match=r"You are muted until .*: insults"):
        services.record_chat(played.pk, bob.pk, "again")
    assert timedelta(minutes=59) < bob.muted_until - timezone.now() <= timedelta(hours=1)


@pytest.mark.pg
def test_a_moderator_bans_for_a_time_from_the_queue(played, alice, bob):
    item = report(played, alice, bob)
    assert "Resolved: Temporary ban." in resolve(
        staff_client("moderator", "mo"), item, "temporary_ban", "cheating", length="7d"
    )
    bob.refresh_from_db()
    assert bob.ban_in_force() and bob.banned_until is not None and bob.ban_reason == "cheating"
    actions = list(AuditEntry.objects.order_by("id").values_list("actor_name", "action"))
    assert actions == [("mo", "ban"), ("mo", "resolve_report")]


def test_a_moderator_may_not_ban_permanently_from_the_queue(played, alice, bob):
    item = report(played, alice, bob)
    moderator = staff_client("moderator")
    offered = moderator.get(f"/admin/games/report/{item.pk}/change/").content.decode()
    assert 'value="temporary_ban"' in offered and 'value="permanent_ban"' not in offered
    page = resolve(moderator, item, "permanent_ban", "cheating")
    assert "Select a valid choice" in page
    assert not Player.objects.get(pk=bob.pk).is_banned
    assert Report.objects.get().status == "open"


def test_an_operator_bans_permanently_from_the_queue(played, alice, bob):
    item = report(played, alice, bob)
    resolve(staff_client("operator"), item, "permanent_ban", "cheating")
    bob.refresh_from_db()
    assert bob.ban_in_force() and bob.banned_until is None


@pytest.mark.pg
def test_a_resolved_report_is_not_resolved_again(played, alice, bob):
    item = report(played, alice, bob)
    moderator = staff_client("moderator")
    resolve(moderator, item, "dismiss", "fine")
    page = resolve(moderator, item, "temporary_ban", "changed my mind")
    assert "This report was resolved already" in page
    assert not Player.objects.get(pk=bob.pk).is_banned
    assert AuditEntry.objects.filter(action="resolve_report").count() == 1


def test_a_viewer_without_the_handle_permission_cannot_resolve(played, alice, bob):
    item = report(played, alice, bob)
    call_command("create_roles", stdout=io.StringIO())
    viewer = User.objects.create_user("viewer", password="x-pass-42", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_report"))
    client = Client()
    client.force_login(viewer)
    page = client.get(f"/admin/games/report/{item.pk}/change/").content.decode()
    assert "they insulted me" in page and 'name="resolve"' not in page
    url = f"/admin/games/report/{item.pk}/change/"
    assert client.post(url, {"resolution": "dismiss", "note": "x"}).status_code == 403
    assert Report.objects.get().status == "open"


def test_staff_without_a_role_sees_no_reports(played, alice, bob):
    item = report(played, alice, bob)
    client = staff_client("moderator")
    User.objects.get(username="moderator-on-duty").groups.clear()
    assert client.get("/admin/games/report/").status_code == 403
    assert client.get(f"/admin/games/report/{item.pk}/change/").status_code == 403
    assert Group.objects.filter(name="moderator").exists()


def test_an_unknown_report_is_not_found(played, alice, bob):
    assert staff_client("moderator").get("/admin/games/report/999/change/").status_code == 404


def test_the_audit_log_names_the_resolution(played, alice, bob, admin_client_):
    item = report(played, alice, bob)
    resolve(staff_client("moderator"), item, "warn", "careful")
    page = admin_client_.get("/admin/games/auditentry/").content.decode()
    assert f"report #{item.pk}: Warn" in page


# --- From the report to the reported player's socket -----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_a_report_resolved_as_a_ban_closes_the_reported_players_socket(
    match_factory, alice, bob
):
    from tests.test_matchmaking_socket import lobby

    played = await sync_to_async(match_factory)(players=[alice, bob], status="finished")
    item = await sync_to_async(report)(played, alice, bob, "cheating")
    socket = await lobby(bob)
    moderator = await sync_to_async(staff_client)("moderator")
    await sync_to_async(resolve)(moderator, item, "temporary_ban", "cheating", length="1h")
    assert await socket.closed(timeout=1) == 4003
    (closing,) = [f for f in socket.seen if f["type"] == "closing"]
    assert closing["reason"].startswith("You are banned until ")


# --- Through the match socket and the queue, once the runtime calls these services ---------
# Through the real front doors: the match socket's chat and the quick join.


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_a_muted_players_chat_is_not_delivered_and_they_are_told(match_factory, alice, bob):
    from tests.runtime import join

    match = await sync_to_async(match_factory)(players=[alice, bob])
    until = timezone.now() + timedelta(hours=1)
    await sync_to_async(services.mute_player)(alice, until, "insults", by=None)
    a, _ = await join(match, alice)
    b, _ = await join(match, bob)
    await a.send(type="chat", text="you are all terrible")
    error = await a.until("error")
    assert error["message"] == f"You are muted until {services.format_ban_end(until)}: insults"
    await b.send(type="chat", text="hello")
    heard = await b.until("chat")  # Alice's line would have come first
    assert (heard["from"]["name"], heard["text"]) == ("Bob", "hello")
    lines = await sync_to_async(list)(ChatLine.objects.values_list("player_id", "seat", "text"))
    assert lines == [(bob.pk, 1, "hello")]
    await a.close()
    await b.close()


def test_quick_join_refuses_a_player_in_cooldown_with_the_time_left(match_factory, alice, bob):
    for _ in range(2):
        match = match_factory(players=[alice, bob], status="active")
        results = [services.SeatRecord(0, "abandoned", 0, 2), services.SeatRecord(1, "win", 1, 1)]
        services.finish_match(match.pk, results, "Seat 0 left.")
    response = client_for(alice).post(
        "/api/play/", json.dumps({"game": "connect_four"}), content_type="application/json"
    )
    body = response.json()
    assert "error" in body, body
    error = body["error"]
    assert error["code"] == "cooldown"
    assert "you may queue again in 5 minutes" in error["message"]
