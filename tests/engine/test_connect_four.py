"""Connect Four rules, on the pure engine: no database, no network."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.engine import get_game
from games.engine.base import IllegalInput, InvalidInput, InvalidSettings
from games.engine.connect_four import COLUMNS, ROWS, ConnectFourState

GAME = get_game("connect_four")


def new(seed: int = 0, turn_seconds: int = 30) -> ConnectFourState:
    return GAME.initial_state(GAME.settings({"turn_seconds": turn_seconds}), 2, seed)


def play(state: ConnectFourState, *columns: int) -> None:
    for column in columns:
        GAME.apply_input(state, state.to_move, GAME.parse_input({"column": column}))


def test_the_seed_decides_who_opens():
    assert new(seed=0).to_move == 0 and new(seed=1).to_move == 1


def test_a_vertical_four_wins():
    state = new()
    play(state, 0, 1, 0, 1, 0, 1, 0)
    outcome = GAME.outcome(state)
    assert outcome is not None and outcome.summary == "Player 1 wins: four in a row."
    assert [(s.seat, s.result, s.rank) for s in outcome.seats] == [(0, "win", 1), (1, "loss", 2)]
    assert state.line == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_summaries_name_seat_n_player_n_plus_1():
    # Seat 0 opens and lets its clock run out: seat 1 wins, and people read "Player 2".
    state = new(seed=0, turn_seconds=5)
    for _ in range(5 * GAME.tick_rate):
        GAME.tick(state)
    outcome = GAME.outcome(state)
    assert outcome is not None and state.winner == 1
    assert outcome.summary == "Player 2 wins: player 1 ran out of time."


def test_a_diagonal_four_wins():
    state = new()
    # Seat 0 builds the rising diagonal (0,0) (1,1) (2,2) (3,3).
    play(state, 0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3)
    assert state.winner == 0 and state.line == [(0, 0), (1, 1), (2, 2), (3, 3)]


def test_a_full_board_without_four_is_a_draw():
    state = new()
    # Column pairs filled in an order that never lines up four of a kind.
    order = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    order += [2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2]
    order += [4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4]
    order += [6] * 6
    play(state, *order)
    outcome = GAME.outcome(state)
    assert state.moves == COLUMNS * ROWS
    assert outcome is not None and {s.result for s in outcome.seats} == {"draw"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"column": 7}, "column"),
        ({"column": -1}, "column"),
        ({"column": 10**400}, "column"),
        ({"column": "3"}, "column"),
        ({"column": True}, "column"),
        ({"column": 3.0}, "column"),
        ({}, "column"),
        ({"column": 3, "row": 0}, "row"),
        ("3", "data"),
    ],
)
def test_malformed_moves_are_refused_naming_the_field(data, field):
    with pytest.raises(InvalidInput) as refused:
        GAME.parse_input(data)
    assert refused.value.field == field and f"`{field}`" in refused.value.reason


def test_moving_out_of_turn_is_refused():
    state = new(seed=0)
    with pytest.raises(IllegalInput, match="not your turn"):
        GAME.apply_input(state, 1, GAME.parse_input({"column": 3}))


def test_a_full_column_is_refused():
    state = new()
    play(state, *[3] * ROWS)
    with pytest.raises(IllegalInput) as refused:
        play(state, 3)
    assert refused.value.code == "column_full"


def test_no_moves_after_the_end():
    state = new()
    play(state, 0, 1, 0, 1, 0, 1, 0)
    with pytest.raises(IllegalInput) as refused:
        GAME.apply_input(state, 1, GAME.parse_input({"column": 5}))
    assert refused.value.code == "game_over"


def test_running_out_of_time_forfeits():
    state = new(turn_seconds=5)
    for _ in range(5 * GAME.tick_rate - 1):
        GAME.tick(state)
    assert not state.finished
    events = GAME.tick(state)
    assert state.finished and state.winner == 1
    assert events[0].kind == "forfeit"


def test_a_move_resets_the_turn_clock():
    state = new(turn_seconds=5)
    for _ in range(40):
        GAME.tick(state)
    play(state, 2)
    assert GAME.view(state, None)["turn_ticks_left"] == 5 * GAME.tick_rate


def test_leaving_forfeits():
    state = new()
    GAME.remove_seat(state, 0)
    outcome = GAME.outcome(state)
    assert outcome is not None and outcome.seats[1].result == "win"


def test_settings_out_of_range_are_refused():
    with pytest.raises(InvalidSettings, match="turn_seconds"):
        GAME.settings({"turn_seconds": 1000})
    with pytest.raises(InvalidSettings, match="Unknown setting 'colour'"):
        GAME.settings({"colour": "red"})


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**62),
    actions=st.lists(
        st.one_of(
            st.tuples(st.just("move"), st.integers(0, 1), st.integers(-2, 8)),
            st.tuples(st.just("tick"), st.integers(1, 400), st.just(0)),
            st.tuples(st.just("leave"), st.integers(0, 1), st.just(0)),
        ),
        max_size=80,
    ),
)
def test_random_play_never_breaks_the_rules(seed, actions):
    state = new(seed=seed, turn_seconds=10)
    for kind, a, b in actions:
        try:
            if kind == "move":
                GAME.apply_input(state, a, GAME.parse_input({"column": b}))
            elif kind == "tick":
                for _ in range(a):
                    GAME.tick(state)
            else:
                GAME.remove_seat(state, a)
        except (IllegalInput, InvalidInput):
            pass
        discs = [d for column in state.board for d in column]
        assert all(len(column) <= ROWS for column in state.board)
        # Turns alternate, so the two seats' disc counts differ by at most one.
        assert abs(discs.count(0) - discs.count(1)) <= 1
        outcome = GAME.outcome(state)
        assert (outcome is None) == (not state.finished)
        if outcome is not None:
            winners = [s for s in outcome.seats if s.result == "win"]
            draws = [s for s in outcome.seats if s.result == "draw"]
            assert len(winners) == 1 or len(draws) == 2
