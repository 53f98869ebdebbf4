"""The admin as an operator uses it: changelists, search, filters, inlines and actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from games import services
from games.models import ChatLine, Match, MatchStatus, Player, Replay

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/games/player/",
        "/admin/games/match/",
        "/admin/games/participant/",
        "/admin/games/player/?q=Alice",
        "/admin/games/player/?is_banned__exact=1",
        "/admin/games/match/?game=arena&status__exact=finished",
        "/admin/games/match/?q=Alice",
        "/admin/games/participant/?outcome__exact=win",
        "/admin/games/auditentry/",
        "/admin/games/auditentry/?action__exact=ban",
        "/admin/games/match/live/",
        "/admin/games/player/?cooldown=yes",
        "/admin/games/report/",
        "/admin/games/report/?queue=mine",
        "/admin/games/report/?queue=all&reason__exact=cheating",
        "/admin/games/chatline/",
        "/admin/games/chatline/?q=gg",
    ],
)
def test_changelists_load_for_a_superuser(admin_client_, match_factory, alice, bob, url):
    match = match_factory(players=[alice, bob], status="finished")
    services.record_chat(match.pk, alice.pk, "gg")
    services.report_player(bob, match.pk, alice.pk, "cheating")
    response = admin_client_.get(url)
    assert response.status_code == 200


def test_match_changelist_shows_players_status_and_duration(
    admin_client_, match_factory, alice, bob
):
    match = match_factory(players=[alice, bob], status="finished")
    page = admin_client_.get("/admin/games/match/").content.decode()
    assert "Alice, Bob (2/2)" in page and "Finished" in page
    assert str(match.id)[:8] in page


def test_match_search_finds_by_player_name(admin_client_, match_factory, alice, bob, stranger):
    mine = match_factory("arena", players=[alice], max_players=3)
    other = match_factory("arena", players=[stranger], max_players=3)
    page = admin_client_.get("/admin/games/match/?q=Alice").content.decode()
    assert str(mine.id)[:8] in page and str(other.id)[:8] not in page


def test_game_filter_lists_registry_games(admin_client_, match_factory):
    match_factory("arena", seats=1)
    page = admin_client_.get("/admin/games/match/?game=connect_four").content.decode()
    assert "Connect Four" in page and "0 matches" in page


def test_match_change_page_has_participants_inline_and_read_only_status(
    admin_client_, match_factory, alice, bob
):
    match = match_factory(players=[alice, bob], status="finished")
    page = admin_client_.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "Participants" in page and "Alice" in page and "Bob" in page
    assert 'name="status"' not in page  # status changes only through services


def test_player_changelist_shows_rating_and_record(admin_client_, player_factory):
    player_factory("Rated", matches_played=4, wins=3, rating_ordinal=7.25)
    page = admin_client_.get("/admin/games/player/").content.decode()
    assert "Rated" in page and "7.2" in page


def test_ban_action_asks_for_a_reason_then_bans(admin_client_, alice, bob):
    form = {"action": "ban_players", "_selected_action": [alice.pk, bob.pk]}
    confirm = admin_client_.post("/admin/games/player/", form)
    assert confirm.status_code == 200 and "Ban players" in confirm.content.decode()
    assert not Player.objects.filter(is_banned=True).exists()

    apply = {**form, "apply": "1", "reason": "match fixing", "length": "permanent"}
    done = admin_client_.post("/admin/games/player/", apply, follow=True)
    assert "Banned 2 player(s)." in done.content.decode()
    banned = Player.objects.filter(is_banned=True)
    assert {p.pk for p in banned} == {alice.pk, bob.pk}
    assert {p.ban_reason for p in banned} == {"match fixing"}
    assert {p.banned_until for p in banned} == {None}
    page = admin_client_.get("/admin/games/player/").content.decode()
    assert "permanent" in page


def test_ban_action_bans_for_the_length_chosen(admin_client_, alice):
    form = {"action": "ban_players", "_selected_action": [alice.pk], "apply": "1"}
    before = timezone.now()
    admin_client_.post("/admin/games/player/", {**form, "reason": "spam", "length": "7d"})
    alice.refresh_from_db()
    assert alice.ban_in_force()
    assert alice.banned_until - before == pytest.approx(timedelta(days=7), abs=timedelta(seconds=5))
    page = admin_client_.get("/admin/games/player/").content.decode()
    assert f"until {services.format_ban_end(alice.banned_until)}" in page


def test_ban_form_offers_the_lengths(admin_client_, alice):
    form = {"action": "ban_players", "_selected_action": [alice.pk]}
    page = admin_client_.post("/admin/games/player/", form).content.decode()
    for label in ("1 hour", "1 day", "7 days", "30 days", "Permanent"):
        assert f">{label}</option>" in page


def test_ban_action_requires_a_reason(admin_client_, alice):
    form = {"action": "ban_players", "_selected_action": [alice.pk], "apply": "1", "reason": ""}
    response = admin_client_.post("/admin/games/player/", form)
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_unban_action(admin_client_, alice):
    services.ban_player(alice, "oops")
    admin_client_.post(
        "/admin/games/player/", {"action": "unban_players", "_selected_action": [alice.pk]}
    )
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_abort_action_asks_for_a_reason_then_aborts_live_matches_only(admin_client_, match_factory):
    live = match_factory("arena", seats=2, status="active")
    done = match_factory(status="finished")
    form = {"action": "abort_matches", "_selected_action": [str(live.pk), str(done.pk)]}
    confirm = admin_client_.post("/admin/games/match/", form)
    assert "Abort matches" in confirm.content.decode()
    assert Match.objects.get(pk=live.pk).status == MatchStatus.ACTIVE

    apply = {**form, "apply": "1", "reason": "server restart"}
    page = admin_client_.post("/admin/games/match/", apply, follow=True).content.decode()
    assert "Aborted 1 match(es)." in page and str(done.pk)[:8] in page
    aborted = Match.objects.get(pk=live.pk)
    assert aborted.status == MatchStatus.ABORTED
    assert aborted.result == {"summary": "Aborted: stopped by an operator (server restart)"}
    assert Match.objects.get(pk=done.pk).status == MatchStatus.FINISHED


def test_abort_action_requires_a_reason(admin_client_, match_factory):
    live = match_factory("arena", seats=2, status="active")
    form = {"action": "abort_matches", "_selected_action": [str(live.pk)], "apply": "1"}
    response = admin_client_.post("/admin/games/match/", {**form, "reason": " "})
    assert "This field is required" in response.content.decode()
    assert Match.objects.get(pk=live.pk).status == MatchStatus.ACTIVE


def test_admin_needs_staff(alice_client):
    response = alice_client.get("/admin/games/match/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_match_page_shows_its_replay(admin_client_, match_factory):
    match = match_factory(status="active")
    log = [[0, 0, {"column": 3}], [4, 1, {"column": 4}]]
    final = {"tick": 40, "board": []}
    services.finish_match(
        match.pk,
        [services.SeatRecord(0, "win", 1, 1), services.SeatRecord(1, "loss", 0, 2)],
        "Seat 0 wins.",
        replay=services.ReplayData(seats=2, final_tick=40, log=log, final_state=final),
    )
    assert Replay.objects.get(match=match).entries() == log
    page = admin_client_.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "2 inputs over 40 ticks (4 s), 2 seats" in page


def test_match_page_shows_the_result_in_words_and_ratings_rounded(
    admin_client_, match_factory, alice, bob
):
    match = match_factory(players=[alice, bob], status="finished")
    page = admin_client_.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "Seat 0 wins.<br>Rated.<br>Seat 1, Alice: win, score 1, rank 1" in page
    assert "Seat 2, Bob: loss, score 0, rank 2" in page
    assert '"summary"' not in page  # not the stored JSON
    seat = match.participants.get(player=alice)
    compact = "".join(page.split())
    assert f'field-rating_after_rounded"><p>{seat.rating_after:.2f}</p>' in compact
    assert repr(seat.rating_after) not in page  # 3.253318548555445 is not shown


def test_match_page_hides_the_runners_fence(admin_client_, match_factory):
    match = match_factory(status="active")
    page = admin_client_.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "runner_fence" not in page and "Runner fence" not in page
    assert 'name="status"' not in page and "Seed" in page


def test_participants_list_shows_the_rating_change_rounded(admin_client_, match_factory):
    match = match_factory(status="finished")
    seat = match.participants.get(seat=0)
    page = admin_client_.get("/admin/games/participant/").content.decode()
    assert f"{seat.rating_change:+.2f}" in page and repr(seat.rating_after) not in page


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    icon = b"".join(response.streaming_content)
    assert icon[:4] == b"\x00\x00\x01\x00"  # an icon file
    assert "max-age=86400" in response["Cache-Control"]


def test_the_home_page_links_the_moderation_queue(admin_client_):
    page = admin_client_.get("/admin/").content.decode()
    assert 'href="/admin/games/report/">Moderation queue</a>' in page


def test_chat_lines_are_read_only(admin_client_, match_factory, alice):
    match = match_factory(players=[alice], seats=1)
    line = services.record_chat(match.pk, alice.pk, "hello")
    assert admin_client_.get("/admin/games/chatline/add/").status_code == 403
    assert admin_client_.get(f"/admin/games/chatline/{line.pk}/delete/").status_code == 403
    admin_client_.post(f"/admin/games/chatline/{line.pk}/change/", {"text": "edited"})
    assert ChatLine.objects.get().text == "hello"
    page = admin_client_.get("/admin/games/chatline/").content.decode()
    assert "hello" in page and "seat 1" in page
