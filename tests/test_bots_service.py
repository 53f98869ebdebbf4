"""Computer players in the database: bot accounts, "Play vs computer" (service and API),
the queue's matches with bots, and what results, ratings and history say of them."""

from __future__ import annotations

import pytest

from games import services
from games.models import Match, Player
from games.runtime.match import store
from tests.conftest import client_for
from tests.test_api import error_code, post

pytestmark = pytest.mark.django_db


def seated(match: Match) -> list[Player]:
    return [p.player for p in match.participants.select_related("player").order_by("seat")]


def finish(match: Match, winner_seat: int) -> Match:
    services.start_match(match.pk)
    seats = match.participants.count()
    results = [
        services.SeatRecord(
            seat, "win" if seat == winner_seat else "loss", 0, 1 if seat == winner_seat else 2
        )
        for seat in range(seats)
    ]
    return services.finish_match(match.pk, results, "somebody wins")


# --- Bot accounts ---------------------------------------------------------------------------


def test_a_bot_is_a_player_flagged_as_a_bot_named_as_one_and_made_once():
    bot = services.bot_player("connect_four", "easy")
    assert bot.is_bot and bot.bot_level == "easy"
    assert bot.display_name == "Connect Four bot · easy"
    assert services.bot_player("connect_four", "easy") == bot
    assert services.bot_player("arena", "easy") != bot
    assert services.bot_player("arena", "easy", 2).display_name == "Arena bot 2 · easy"


def test_nobody_can_log_in_as_a_bot():
    bot = services.bot_player("connect_four", "hard")
    assert not bot.user.is_active
    assert not bot.user.has_usable_password()
    # A username Django's validator refuses: nobody can sign up as a bot either.
    assert ":" in bot.user.username


def test_bots_are_not_on_the_leaderboard(alice):
    bot = services.bot_player("connect_four", "normal")
    Player.objects.filter(pk=bot.pk).update(matches_played=5, rating_ordinal=99.0)
    Player.objects.filter(pk=alice.pk).update(matches_played=1)
    assert list(Player.objects.leaderboard()) == [alice]


# --- Play vs computer -----------------------------------------------------------------------


def test_play_vs_computer_seats_the_player_and_a_bot_in_a_new_private_match(alice):
    match = services.create_bot_match(alice, "connect_four", "hard")
    assert match.status == "waiting" and match.is_private and match.max_players == 2
    me, bot = seated(match)
    assert me == alice
    assert bot.is_bot and bot.bot_level == "hard"
    # The store tells the runner which seat is a bot, and at which level.
    info = store._load(str(match.pk))
    assert info is not None
    assert [row.bot for row in info.seats] == [None, "hard"]


def test_play_vs_computer_in_the_arena_seats_a_few_different_bots(alice):
    match = services.create_bot_match(alice, "arena")
    players = seated(match)
    assert players[0] == alice
    bots = players[1:]
    assert len(bots) == services.bots.BOTS_IN_A_CROWD
    assert len(set(bots)) == len(bots) and all(b.is_bot and b.bot_level == "normal" for b in bots)


def test_a_bot_plays_several_matches_at_once(alice, bob):
    first = services.create_bot_match(alice, "connect_four", "easy")
    services.start_match(first.pk)
    second = services.create_bot_match(bob, "connect_four", "easy")
    assert seated(first)[1] == seated(second)[1]


def test_play_vs_computer_gives_up_a_waiting_seat(alice, match_factory, bob):
    waiting = match_factory("arena", players=[bob, alice])
    services.create_bot_match(alice, "connect_four")
    assert alice not in seated(waiting)


def test_play_vs_computer_is_refused_while_playing_a_match(alice, match_factory, bob):
    match_factory("arena", players=[alice, bob], status="active")
    with pytest.raises(services.AlreadyPlaying):
        services.create_bot_match(alice, "connect_four")


def test_an_unknown_level_is_refused(alice):
    with pytest.raises(services.InvalidRequest, match="Unknown bot level"):
        services.create_bot_match(alice, "connect_four", "grandmaster")


def test_the_api_answers_play_vs_computer_with_the_new_match(alice):
    response = post(client_for(alice), "/api/matches/computer/", {"game": "arena", "level": "easy"})
    assert response.status_code == 201
    body = response.json()
    assert body["private"] and body["status"] == "waiting" and body["join_code"]
    people = [p["player"] for p in body["participants"]]
    assert people[0] == {"id": alice.pk, "display_name": "Alice", "is_bot": False}
    assert [p["is_bot"] for p in people[1:]] == [True, True]
    assert all("bot" in p["display_name"] for p in people[1:])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"game": "chess"}, 400, "invalid_request"),
        ({"game": "connect_four", "level": "impossible"}, 400, "invalid_request"),
        ({"game": "connect_four", "bots": 5}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
    ],
)
def test_the_api_refuses_a_bad_request_in_json(alice, body, status, code):
    response = post(client_for(alice), "/api/matches/computer/", body)
    assert response.status_code == status and error_code(response) == code


def test_the_api_refuses_someone_playing_and_someone_logged_out(client, alice, bob, match_factory):
    assert error_code(post(client, "/api/matches/computer/", {"game": "arena"})) == (
        "not_authenticated"
    )
    match_factory("arena", players=[alice, bob], status="active")
    response = post(client_for(alice), "/api/matches/computer/", {"game": "connect_four"})
    assert response.status_code == 409 and error_code(response) == "in_match"


# --- The queue's matches with bots --------------------------------------------------------------


def test_a_lone_queued_player_gets_a_public_match_with_bots_up_to_the_minimum(alice):
    made = services.create_queued_bot_match("arena", [alice.pk])
    assert made.match is not None and made.refused == {}
    assert not made.match.is_private and made.match.max_players == 2
    me, bot = seated(made.match)
    assert me == alice and bot.is_bot


def test_a_queued_bot_match_refuses_a_banned_player_and_writes_nothing(alice):
    services.ban_player(alice, "cheating")
    made = services.create_queued_bot_match("connect_four", [alice.pk])
    assert made.match is None and alice.pk in made.refused
    assert not Match.objects.exists()


# --- Results, ratings, history ------------------------------------------------------------------


def test_a_match_with_a_bot_is_unrated_and_the_result_shows_the_bot(alice):
    before = alice.rating_ordinal
    made = services.create_queued_bot_match("connect_four", [alice.pk])  # public
    assert made.match is not None
    match = finish(made.match, winner_seat=0)
    assert match.result["rated"] is False
    alice.refresh_from_db()
    assert alice.rating_ordinal == before and alice.wins == 1
    payload = store.result_payload(match)
    assert [seat["bot"] for seat in payload["seats"]] == [False, True]
    assert [seat["rating_after"] for seat in payload["seats"]] == [None, None]


def test_a_players_history_says_which_matches_had_bots(alice, bob, match_factory):
    finish(services.create_bot_match(alice, "connect_four"), winner_seat=1)
    match_factory("connect_four", players=[alice, bob], status="finished")
    rows = client_for(alice).get(f"/api/players/{alice.pk}/matches/").json()["results"]
    assert [row["match"]["with_bots"] for row in rows] == [False, True]
    assert [row["match"]["rated"] for row in rows] == [True, False]


def test_operators_can_list_the_bots_in_the_admin(admin_client_, alice):
    bot = services.bot_player("arena", "hard")
    page = admin_client_.get("/admin/games/player/?is_bot__exact=1")
    assert page.status_code == 200
    text = page.content.decode()
    assert bot.display_name in text and "Alice" not in text


def test_a_waiting_match_its_person_leaves_is_aborted_though_bots_remain(alice):
    match = services.create_bot_match(alice, "arena")
    services.leave_waiting_match(alice, match.pk)
    match.refresh_from_db()
    assert match.status == "aborted"
