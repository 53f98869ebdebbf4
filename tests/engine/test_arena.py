"""Arena rules, on the pure engine."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.engine import get_game
from games.engine.arena import HEIGHT, MAX_HP, SHIP_RADIUS, WIDTH, ArenaState
from games.engine.base import IllegalInput, InvalidInput

GAME = get_game("arena")


def new(seats: int = 2, seed: int = 7, **overrides) -> ArenaState:
    return GAME.initial_state(GAME.settings(overrides), seats, seed)


def ticks(state: ArenaState, n: int) -> list:
    events = []
    for _ in range(n):
        events += GAME.tick(state)
    return events


def test_ships_start_apart_inside_the_field():
    state = new(seats=8)
    points = {(round(s.x), round(s.y)) for s in state.ships}
    assert len(points) == 8
    assert all(SHIP_RADIUS <= s.x <= WIDTH - SHIP_RADIUS for s in state.ships)


def test_an_input_moves_the_ship_at_its_speed_and_is_acknowledged():
    state = new()
    x0 = state.ships[0].x
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": 1, "my": 0}))
    ticks(state, 10)  # half a second at 20 Hz
    assert state.ships[0].x == pytest.approx(x0 + 110.0)
    assert GAME.view(state, 0)["ships"][0]["ack"] == 1


def test_diagonal_movement_is_not_faster():
    state = new()
    ship = state.ships[0]
    x0, y0 = ship.x, ship.y
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": 1, "my": 1}))
    ticks(state, 4)
    assert math.hypot(ship.x - x0, ship.y - y0) == pytest.approx(44.0)


def test_ships_stay_inside_the_walls():
    state = new()
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": -1, "my": -1}))
    ticks(state, 200)
    ship = state.ships[0]
    assert (ship.x, ship.y) == (SHIP_RADIUS, SHIP_RADIUS)


def test_stale_inputs_are_refused():
    state = new()
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 5}))
    with pytest.raises(IllegalInput) as stale:
        GAME.apply_input(state, 0, GAME.parse_input({"seq": 5}))
    assert stale.value.code == "stale_input"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"seq": 6, "mx": "left"}, "mx"),
        ({"seq": 7, "aim": float("nan")}, "aim"),
        ({"seq": 7, "aim": float("inf")}, "aim"),
        ({"seq": 7, "mx": 10**400}, "mx"),
        ({"seq": 7, "my": -1.5}, "my"),
        ({"seq": 7, "fire": 1}, "fire"),
        ({"seq": 7, "x": 2**70}, "x"),
        ({"seq": 2**31}, "seq"),
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"mx": 1}, "seq"),
        ([1, 2], "data"),
    ],
)
def test_malformed_inputs_are_refused_naming_the_field(data, field):
    with pytest.raises(InvalidInput) as refused:
        GAME.parse_input(data)
    assert refused.value.field == field and f"`{field}`" in refused.value.reason


def test_only_the_declared_fields_of_an_input_are_kept():
    data = GAME.parse_input({"seq": 3, "mx": 1, "aim": 1.5})
    assert GAME.dump_input(data) == {"seq": 3, "mx": 1.0, "aim": 1.5}
    assert GAME.parse_input(GAME.dump_input(data)) == data


def aim_at(state, shooter, target):
    a, b = state.ships[shooter], state.ships[target]
    return math.atan2(b.y - a.y, b.x - a.x)


def test_three_hits_destroy_a_ship_score_a_point_and_it_respawns():
    state = new()
    GAME.apply_input(
        state, 0, GAME.parse_input({"seq": 1, "aim": aim_at(state, 0, 1), "fire": True})
    )
    events = ticks(state, 60)
    kinds = [e.kind for e in events]
    assert kinds.count("hit") == MAX_HP - 1 and "kill" in kinds
    assert state.ships[0].score == 1 and not state.ships[1].alive
    events = ticks(state, 45)
    assert "respawn" in [e.kind for e in events] and state.ships[1].hp == MAX_HP


def test_the_score_limit_ends_the_match_with_the_scorer_winning():
    state = new(score_limit=1)
    GAME.apply_input(
        state, 0, GAME.parse_input({"seq": 1, "aim": aim_at(state, 0, 1), "fire": True})
    )
    ticks(state, 60)
    outcome = GAME.outcome(state)
    assert outcome is not None and "score limit" in outcome.summary
    assert outcome.summary.startswith("Player 1 won: ")  # seat 0 is Player 1 to people
    assert [(s.seat, s.result, s.rank) for s in outcome.seats] == [(0, "win", 1), (1, "loss", 2)]


def test_the_time_limit_ends_the_match_and_equal_scores_draw():
    state = new(time_limit_seconds=10)
    ticks(state, 10 * 20)
    outcome = GAME.outcome(state)
    assert outcome is not None and outcome.summary == "Draw: time is up."
    assert {s.result for s in outcome.seats} == {"draw"}


def test_a_leaving_ship_is_removed_and_ranks_last():
    state = new(seats=3)
    GAME.remove_seat(state, 1)
    assert state.ships[1].removed and not state.finished
    GAME.remove_seat(state, 2)
    outcome = GAME.outcome(state)
    assert outcome is not None and outcome.seats[0].result == "win"
    assert [s.rank for s in outcome.seats] == [1, 2, 2]


def test_the_view_is_the_same_for_every_seat():
    state = new(seats=4)
    ticks(state, 3)
    assert GAME.view(state, 0) == GAME.view(state, 3) == GAME.view(state, None)


inputs = st.fixed_dictionaries(
    {
        "mx": st.floats(-1, 1),
        "my": st.floats(-1, 1),
        "aim": st.floats(-math.tau, math.tau),
        "fire": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    seats=st.integers(2, 8),
    seed=st.integers(0, 2**62),
    plan=st.lists(
        st.tuples(st.integers(0, 7), inputs, st.integers(1, 30), st.booleans()), max_size=30
    ),
)
def test_random_play_keeps_ships_in_bounds_and_scores_sane(seats, seed, plan):
    state = new(seats=seats, seed=seed, time_limit_seconds=20, score_limit=3)
    for seq, (raw_seat, data, wait, leave) in enumerate(plan, start=1):
        seat = raw_seat % seats
        try:
            if leave and seat != 0:
                GAME.remove_seat(state, seat)
            else:
                GAME.apply_input(state, seat, GAME.parse_input({**data, "seq": seq}))
        except (IllegalInput, InvalidInput):
            pass
        ticks(state, wait)
        for ship in state.ships:
            assert SHIP_RADIUS <= ship.x <= WIDTH - SHIP_RADIUS
            assert SHIP_RADIUS <= ship.y <= HEIGHT - SHIP_RADIUS
            assert 0 <= ship.score <= 3 and 0 <= ship.hp <= MAX_HP
        assert sum(s.score for s in state.ships) <= 3 * seats
    outcome = GAME.outcome(state)
    if outcome is not None:
        results = {s.result for s in outcome.seats if not state.ships[s.seat].removed}
        assert results in ({"draw"}, {"win"}, {"win", "loss"})
        assert min(s.rank for s in outcome.seats) == 1
