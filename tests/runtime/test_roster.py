"""The seats of a match, with operations and a number for "now"."""

from __future__ import annotations

from games.runtime.match import ops
from games.runtime.match.roster import Roster
from tests.runtime.fakes import SEATS

ANN, BEN = SEATS


def joined(roster: Roster, player_id: int, channel: str, seat: int | None = None, **kw):
    return roster.join(ops.Join(player_id, channel, seat, "X", **kw), waiting=True)


def test_a_seats_second_socket_supersedes_the_first_and_the_firsts_leave_changes_nothing():
    roster = Roster(SEATS)
    assert joined(roster, ANN.player_id, "a1").superseded is None
    assert joined(roster, ANN.player_id, "a2").superseded == "a1"
    assert joined(roster, ANN.player_id, "a2").superseded is None  # the same socket again
    assert roster.leave(ANN.player_id, "a1", now=5.0) is None
    assert roster.get(ANN.player_id).channel == "a2"
    assert roster.channels() == ["a2"]


def test_someone_without_a_seat_watches_and_a_player_seated_later_takes_the_seat():
    roster = Roster([ANN])
    assert joined(roster, 999, "eve").seat is None
    assert roster.join(ops.Join(BEN.player_id, "b", 1, "Ben"), waiting=False).seat is None
    assert joined(roster, BEN.player_id, "b2", seat=1).seat.seat == 1  # while it waits
    assert roster.spectators == {"eve", "b"}
    assert [p["seat"] for p in roster.players()] == [0, 1]


def test_a_seat_expires_after_the_grace_period_and_is_given_up_before_the_start():
    roster = Roster(SEATS)
    joined(roster, ANN.player_id, "a")
    joined(roster, BEN.player_id, "b")
    gone = roster.leave(BEN.player_id, "b", now=10.0)
    assert gone is not None and gone.channel is None and not gone.ready
    assert roster.expired(now=39.9, grace=30) == []
    assert [s.player_id for s in roster.expired(now=40.0, grace=30)] == [BEN.player_id]
    assert roster.give_up(now=19.9, after=10) == []
    assert [s.player_id for s in roster.give_up(now=20.0, after=10)] == [BEN.player_id]
    assert list(roster.seats) == [ANN.player_id]


def test_only_connected_ready_players_count_for_the_start():
    roster = Roster(SEATS)
    joined(roster, ANN.player_id, "a")
    assert roster.mark_ready(ANN.player_id) and not roster.mark_ready(ANN.player_id)
    assert roster.mark_ready(BEN.player_id)  # ready, but not connected
    assert roster.ready_players() == {ANN.player_id}


def test_the_list_of_sockets_follows_every_change():
    roster = Roster(SEATS)
    joined(roster, ANN.player_id, "a", subprotocol="arcade.v1.msgpack")
    first = roster.channels()
    assert roster.channels() is first  # kept between changes: once per change, not per tick
    joined(roster, 999, "eve")
    assert roster.channels() == ["a", "eve"]
    roster.leave(ANN.player_id, "a", now=1.0)
    assert roster.channels() == ["eve"] and "a" not in roster.encodings


def test_a_checkpoints_seats_come_back_disconnected_with_their_abandonment():
    roster = Roster(SEATS)
    roster.get(BEN.player_id).abandoned = True
    again = Roster()
    again.restore(roster.saved(), now=7.0)
    assert [(s.seat, s.channel, s.disconnected_at, s.abandoned) for s in again.seats.values()] == [
        (0, None, 7.0, False),
        (1, None, 7.0, True),
    ]
