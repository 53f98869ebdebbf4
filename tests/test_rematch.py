"""Rematches (service and API): the same people in the same seats once all agree, the
bots seated again, refusals by the rules of every seat, and the others told."""

from __future__ import annotations

import json
from collections import namedtuple

import pytest
from asgiref.sync import sync_to_async

from games import services
from games.models import Match, MatchStatus, Participant
from tests.conftest import client_for
from tests.test_api import error_code, post

# How a seat ended, as finish_match reads it (the runner's record of a seat).
Seat = namedtuple("Seat", "seat outcome score rank")


def seats(match_id) -> list[tuple[int, int]]:
    rows = Participant.objects.filter(match_id=match_id).order_by("seat")
    return list(rows.values_list("seat", "player_id"))


@pytest.fixture
def finished(match_factory, alice, bob) -> Match:
    return match_factory("connect_four", players=[alice, bob], status="finished")


@pytest.mark.django_db
def test_it_starts_when_both_agree_with_the_same_seats_game_and_settings(finished, alice, bob):
    first = services.ask_rematch(alice, finished.pk)
    assert first.status == "waiting"
    assert [p.name for p in first.wants] == ["Alice"]
    assert [p.name for p in first.waiting_for] == ["Bob"]
    assert Match.objects.count() == 1  # nothing made yet

    second = services.ask_rematch(bob, finished.pk)
    assert second.status == "started" and second.new_match_id
    new = Match.objects.get(pk=second.new_match_id)
    assert new.status == MatchStatus.WAITING and new.game == "connect_four"
    assert new.settings == finished.settings and new.is_private == finished.is_private
    assert seats(new.pk) == seats(finished.pk)  # the same seats: the same colours
    # Asking again changes nothing: one rematch.
    assert services.ask_rematch(alice, finished.pk).new_match_id == second.new_match_id
    assert Match.objects.count() == 2


@pytest.mark.django_db
def test_a_decline_puts_it_off_for_good_and_says_who(finished, alice, bob):
    services.ask_rematch(alice, finished.pk)
    declined = services.decline_rematch(bob, finished.pk)
    assert declined.status == "declined"
    assert [(d.name, d.why) for d in declined.declined] == [("Bob", "declined")]
    assert services.ask_rematch(alice, finished.pk).status == "declined"
    assert Match.objects.count() == 1


@pytest.mark.django_db
def test_a_player_who_abandoned_the_match_has_left_already(match_factory, alice, bob):
    match = match_factory("connect_four", players=[alice, bob])
    services.start_match(match.pk)
    results = [Seat(0, "win", 1, 1), Seat(1, "abandoned", 0, 2)]
    services.finish_match(match.pk, results, "Player 1 wins: player 2 left the match.")
    state = services.rematch_state(alice, match.pk)
    assert state.status == "declined"
    assert [(d.name, d.why) for d in state.declined] == [("Bob", "left")]


@pytest.mark.django_db
def test_against_the_computer_it_starts_at_once_with_the_bot_seated_again(alice):
    match = services.create_bot_match(alice, "connect_four", "easy")
    services.start_match(match.pk)
    results = [Seat(0, "loss", 0, 2), Seat(1, "win", 1, 1)]
    services.finish_match(match.pk, results, "Player 2 wins: four in a row.")
    state = services.ask_rematch(alice, match.pk)
    assert state.status == "started"
    assert seats(state.new_match_id) == seats(match.pk)
    assert Match.objects.get(pk=state.new_match_id).is_private


@pytest.mark.django_db
def test_someone_the_rules_refuse_when_it_starts_is_unavailable_and_it_is_off(
    finished, alice, bob, match_factory, player_factory
):
    services.ask_rematch(alice, finished.pk)
    match_factory("arena", players=[alice, player_factory()], status="active")  # Alice plays on
    state = services.ask_rematch(bob, finished.pk)
    assert state.status == "declined"
    assert [(d.name, d.why) for d in state.declined] == [("Alice", "unavailable")]
    assert Match.objects.filter(game="connect_four").count() == 1


@pytest.mark.django_db
def test_a_banned_player_may_not_ask(finished, alice):
    services.ban_player(alice, "griefing")
    alice.refresh_from_db()  # as a request reads its player
    with pytest.raises(services.PlayerBanned):
        services.ask_rematch(alice, finished.pk)


@pytest.mark.django_db
def test_the_last_yes_from_someone_in_another_match_is_refused_for_them(
    finished, alice, bob, match_factory, player_factory
):
    services.ask_rematch(bob, finished.pk)
    match_factory("arena", players=[alice, player_factory()], status="active")
    with pytest.raises(services.AlreadyPlaying):
        services.ask_rematch(alice, finished.pk)
    assert services.rematch_state(bob, finished.pk).status == "waiting"


@pytest.mark.django_db
def test_only_the_people_of_a_finished_match_may_ask(match_factory, alice, bob, stranger):
    finished = match_factory("connect_four", players=[alice, bob], status="finished")
    with pytest.raises(services.MatchNotFound):
        services.ask_rematch(stranger, finished.pk)
    waiting = match_factory("arena", players=[stranger, bob])
    with pytest.raises(services.MatchNotJoinable):
        services.ask_rematch(stranger, waiting.pk)


# --- The API --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_where_it_stands_and_takes_answers(finished, alice, bob):
    url = f"/api/matches/{finished.pk}/rematch/"
    a, b = client_for(alice), client_for(bob)
    assert a.get(url).json()["status"] == "none"
    asked = post(a, url).json()
    assert asked["status"] == "waiting"
    assert asked["wants"] == [{"id": alice.pk, "display_name": "Alice"}]
    assert asked["waiting_for"] == [{"id": bob.pk, "display_name": "Bob"}]
    started = post(b, url, {"answer": "yes"}).json()
    assert started["status"] == "started"
    new_id = started["rematch"]["id"]
    assert started["rematch"] == {"id": new_id, "game": "connect_four", "url": f"/play/{new_id}/"}


@pytest.mark.django_db
def test_the_api_takes_leave_and_refuses_bad_answers_and_strangers(finished, alice, stranger):
    url = f"/api/matches/{finished.pk}/rematch/"
    a = client_for(alice)
    bad = post(a, url, {"answer": "maybe"})
    assert bad.status_code == 400 and error_code(bad) == "invalid_request"
    assert post(a, url, {"answer": "yes", "extra": 1}).status_code == 400
    other = post(client_for(stranger), url)
    assert other.status_code == 404 and error_code(other) == "match_not_found"
    left = post(a, url, {"answer": "leave"}).json()
    assert left["status"] == "declined"
    assert left["declined"] == [{"id": alice.pk, "display_name": "Alice", "why": "left"}]


@pytest.mark.django_db
def test_the_api_needs_a_login(client, finished):
    response = post(client, f"/api/matches/{finished.pk}/rematch/")
    assert response.status_code == 401


# --- The others are told --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runners")
async def test_the_other_player_hears_each_answer_and_both_hear_the_new_match(
    match_factory, alice, bob
):
    from tests.test_lobby_socket import lobby_socket
    from tests.test_protocol_schema import check_frame

    finished = await sync_to_async(match_factory)(
        "connect_four", players=[alice, bob], status="finished"
    )
    a, b = await lobby_socket(alice), await lobby_socket(bob)

    async def next_of(sock, kind):
        while True:
            frame = json.loads(await sock.receive_from(5))
            if frame["type"] == kind:
                check_frame(frame)
                return frame

    for sock in (a, b):
        await next_of(sock, "lobby")  # in the player's group by the time of its snapshot
    await sync_to_async(services.ask_rematch)(alice, finished.pk)
    offer = await next_of(b, "rematch")
    assert offer == {
        "type": "rematch",
        "match": str(finished.pk),
        "status": "waiting",
        "wants": [{"player_id": alice.pk, "name": "Alice"}],
        "declined": [],
    }
    state = await sync_to_async(services.ask_rematch)(bob, finished.pk)
    for sock in (a, b):
        matched = await next_of(sock, "matched")
        assert matched["match"]["id"] == state.new_match_id
