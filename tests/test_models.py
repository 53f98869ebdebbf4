"""Database constraints hold even when code forgets to check."""

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from games.models import Match, Participant, Player

pytestmark = [pytest.mark.pg, pytest.mark.django_db]


def test_it_refuses_a_second_player_in_a_taken_seat(match_factory, stranger):
    match = match_factory(seats=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(match=match, player=stranger, seat=1)


def test_it_refuses_the_same_player_twice_in_one_match(match_factory):
    match = match_factory("arena", seats=2)
    creator = match.participants.get(seat=0).player
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(match=match, player=creator, seat=5)


def test_it_refuses_display_names_that_differ_only_in_case(player_factory):
    player_factory("Alice")
    user = User.objects.create_user("someone-else")
    with pytest.raises(IntegrityError), transaction.atomic():
        Player.objects.create(user=user, display_name="ALICE")


def test_it_refuses_a_private_match_without_a_join_code(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Match.objects.create(game="arena", max_players=4, is_private=True, created_by=alice)


def test_it_refuses_an_unknown_status(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Match.objects.create(game="arena", max_players=4, status="paused")


def test_a_player_with_match_history_cannot_be_deleted(match_factory):
    match = match_factory(status="finished")
    player = match.participants.get(seat=1).player
    with pytest.raises(IntegrityError), transaction.atomic():
        player.user.delete()
    assert Participant.objects.filter(match=match).count() == 2
