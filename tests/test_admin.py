"""The admin as an operator uses it: changelists, search, filters, inlines and actions."""

import pytest

from games.models import Match, MatchStatus, Player

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
    ],
)
def test_changelists_load_for_a_superuser(admin_client_, match_factory, alice, bob, url):
    match_factory(players=[alice, bob], status="finished")
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

    done = admin_client_.post(
        "/admin/games/player/", {**form, "apply": "1", "reason": "match fixing"}, follow=True
    )
    assert "Banned 2 player(s)." in done.content.decode()
    banned = Player.objects.filter(is_banned=True)
    assert {p.pk for p in banned} == {alice.pk, bob.pk}
    assert {p.ban_reason for p in banned} == {"match fixing"}


def test_ban_action_requires_a_reason(admin_client_, alice):
    form = {"action": "ban_players", "_selected_action": [alice.pk], "apply": "1", "reason": ""}
    response = admin_client_.post("/admin/games/player/", form)
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_unban_action(admin_client_, alice):
    from games import services

    services.ban_player(alice, "oops")
    admin_client_.post(
        "/admin/games/player/", {"action": "unban_players", "_selected_action": [alice.pk]}
    )
    assert not Player.objects.get(pk=alice.pk).is_banned


def test_abort_action_aborts_live_matches_and_reports_finished_ones(admin_client_, match_factory):
    live = match_factory("arena", seats=2, status="active")
    done = match_factory(status="finished")
    response = admin_client_.post(
        "/admin/games/match/",
        {"action": "abort_matches", "_selected_action": [str(live.pk), str(done.pk)]},
        follow=True,
    )
    page = response.content.decode()
    assert "Aborted 1 match(es)." in page and str(done.pk)[:8] in page
    assert Match.objects.get(pk=live.pk).status == MatchStatus.ABORTED
    assert Match.objects.get(pk=done.pk).status == MatchStatus.FINISHED


def test_admin_needs_staff(alice_client):
    response = alice_client.get("/admin/games/match/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_match_page_shows_its_replay(admin_client_, match_factory):
    from games import services
    from games.models import Replay

    match = match_factory(status="active")
    log = [[0, 0, {"column": 3}], [4, 1, {"column": 4}]]
    final = {"tick": 40, "board": []}
    services.finish_match(
        match.pk,
        [services.SeatResult(0, "win", 1, 1), services.SeatResult(1, "loss", 0, 2)],
        "Seat 0 wins.",
        replay=services.ReplayData(seats=2, final_tick=40, log=log, final_state=final),
    )
    assert Replay.objects.get(match=match).entries() == log
    page = admin_client_.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "2 inputs over 40 ticks (4 s), 2 seats" in page
