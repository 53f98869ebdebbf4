"""Arena inputs of ticks of movement (the browser's): where a ship ends depends on the
inputs applied, in order, and not on the ticks they met, so the client's prediction
and the server agree however the network bunches or delays the inputs."""

import random

import pytest

from games.engine import get_game
from games.engine.arena import FIRE_COOLDOWN_TICKS, MAX_INPUT_TICKS, ArenaState
from games.engine.base import InvalidInput
from games.engine.replay import replay

GAME = get_game("arena")


def new(seed: int = 7, middle: bool = True) -> ArenaState:
    state = GAME.initial_state(GAME.settings({}), 2, seed)
    if middle:  # no wall in reach
        state.ships[0].x, state.ships[0].y = 480.0, 320.0
    return state


def moves(count: int, seed: int) -> list[dict]:
    """`count` inputs of one tick of movement each: keys, parts of a tick, diagonals."""
    rng = random.Random(seed)
    out = []
    for seq in range(1, count + 1):
        if rng.random() < 0.5:
            mx, my = float(rng.choice([-1, 0, 1])), float(rng.choice([-1, 0, 1]))
        else:
            mx, my = round(rng.uniform(-1, 1), 4), round(rng.uniform(-1, 1), 4)
        out.append({"seq": seq, "mx": mx, "my": my, "ticks": 1})
    return out


def play(
    inputs: list[dict], gaps: set[int], log: list | None = None, middle: bool = True
) -> ArenaState:
    """Apply `inputs` one per tick, with a tick of no input before each index in `gaps`."""
    state = new(middle=middle)
    for index, data in enumerate(inputs):
        if index in gaps:
            GAME.tick(state)  # this input is late: nothing arrived for this tick
        parsed = GAME.parse_input(data)
        if log is not None:
            log.append([state.tick, 0, GAME.dump_input(parsed)])
        GAME.apply_input(state, 0, parsed)
        GAME.tick(state)
    for _ in range(3):
        GAME.tick(state)  # nothing more sent: the ship stays where the inputs left it
    return state


def test_a_tick_without_an_input_does_not_move_a_ship_of_ticks_of_movement():
    state = new()
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": 1, "aim": 0.5, "ticks": 1}))
    GAME.tick(state)
    assert state.ships[0].x == 491.0
    GAME.tick(state)
    assert state.ships[0].x == 491.0 and state.ships[0].aim == 0.5
    assert GAME.view(state, None)["ships"][0]["repeated"] is True


def test_held_controls_still_move_the_ship_every_tick_until_the_next_input():
    state = new()
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": 1}))
    for _ in range(3):
        GAME.tick(state)
    assert state.ships[0].x == 480.0 + 3 * 11.0


def shots_over(state: ArenaState, data: dict, ticks: int) -> int:
    """Bullets fired by seat 0 over `ticks` ticks after one input of `data` (and no other)."""
    GAME.apply_input(state, 0, GAME.parse_input(data))
    fired = 0
    for _ in range(ticks):
        before = state.next_bullet
        GAME.tick(state)
        fired += state.next_bullet - before
    return fired


def test_a_trigger_sent_for_one_tick_fires_once_and_is_not_held_on_ticks_without_input():
    # Three gun cooldowns and no further input (a tap, then a page stalled or a link
    # gone quiet): one shot, as the player pulled the trigger once.
    shot = {"seq": 1, "aim": 0.0, "fire": True, "ticks": 1}
    assert shots_over(new(), shot, 3 * FIRE_COOLDOWN_TICKS) == 1


def test_a_trigger_held_in_every_input_fires_at_the_guns_rate():
    state = new()
    fired = 0
    for seq in range(1, 3 * FIRE_COOLDOWN_TICKS + 1):
        fired += shots_over(state, {"seq": seq, "fire": True, "ticks": 1}, 1)
    assert fired == 3


def test_held_controls_keep_firing_until_the_next_input():
    assert shots_over(new(), {"seq": 1, "fire": True}, 3 * FIRE_COOLDOWN_TICKS) == 3


def test_a_match_recorded_under_the_first_rules_keeps_its_held_trigger_in_the_replay():
    # Matches stored before the `rules` setting replay as they were played.
    settings = {key: value for key, value in GAME.settings({}).items() if key != "rules"}
    state = GAME.initial_state(settings, 2, 7)
    shot = {"seq": 1, "aim": 0.0, "fire": True, "ticks": 1}
    assert shots_over(state, shot, 3 * FIRE_COOLDOWN_TICKS) == 3
    old = GAME.checkpoint(new())
    del old["state"]["rules"]
    assert GAME.restore(old).rules == 1


def test_late_inputs_land_the_ship_where_the_inputs_in_order_put_it():
    inputs = moves(60, seed=3)
    on_time = play(inputs, gaps=set())
    late = play(inputs, gaps={4, 5, 17, 30, 31, 32, 58})  # jitter, and a spike of three ticks
    ship, expected = late.ships[0], on_time.ships[0]
    assert (ship.x, ship.y) == pytest.approx((expected.x, expected.y), abs=1e-9)
    assert (expected.x, expected.y) != (480.0, 320.0)


def test_a_merged_backlog_moves_the_ship_as_far_as_its_inputs_one_by_one():
    inputs = [GAME.parse_input(data) for data in moves(6, seed=5)]
    merged = inputs[0]
    for newer in inputs[1:]:
        merged = GAME.merge_inputs(merged, newer)
    assert merged.ticks == 6 and merged.seq == 6
    one_by_one, at_once = new(), new()
    for data in inputs:
        GAME.apply_input(one_by_one, 0, data)
        GAME.tick(one_by_one)
    GAME.apply_input(at_once, 0, merged)
    GAME.tick(at_once)
    a, b = one_by_one.ships[0], at_once.ships[0]
    assert (b.x, b.y) == pytest.approx((a.x, a.y), abs=1e-9)


def test_a_merge_keeps_a_full_speed_diagonal_and_a_pause_apart():
    diagonal = GAME.parse_input({"seq": 1, "mx": 1, "my": 1, "ticks": 1})
    pause = GAME.parse_input({"seq": 2, "ticks": 1})
    merged = GAME.merge_inputs(diagonal, pause)
    state = new()
    GAME.apply_input(state, 0, merged)
    GAME.tick(state)
    step = 11.0 / 2**0.5  # one tick along the diagonal, and one of nothing
    assert (state.ships[0].x, state.ships[0].y) == pytest.approx((480.0 + step, 320.0 + step))


def test_a_clients_input_counts_as_one_tick_of_movement_at_most():
    claimed = GAME.parse_input({"seq": 1, "mx": 1, "ticks": 5})
    assert GAME.clamp_input(claimed, 250).ticks == 1
    with pytest.raises(InvalidInput):
        GAME.parse_input({"seq": 1, "ticks": MAX_INPUT_TICKS + 1})


def test_a_replay_of_late_and_merged_inputs_reaches_the_same_ship():
    inputs = moves(30, seed=9)
    log: list = []
    live = play(inputs[:20], gaps={3, 11}, log=log, middle=False)
    merged = GAME.merge_inputs(GAME.parse_input(inputs[20]), GAME.parse_input(inputs[21]))
    log.append([live.tick, 0, GAME.dump_input(merged)])
    GAME.apply_input(live, 0, merged)
    GAME.tick(live)
    again = replay(GAME, GAME.settings({}), 2, 7, log, until_tick=live.tick)
    assert again.tick == live.tick
    assert (again.ships[0].x, again.ships[0].y) == (live.ships[0].x, live.ships[0].y)


def test_a_checkpoint_from_before_ticks_of_movement_still_restores():
    state = new()
    GAME.apply_input(state, 0, GAME.parse_input({"seq": 1, "mx": 1}))
    old = GAME.checkpoint(state)
    for ship in old["state"]["ships"]:
        del ship["controls"]["ticks"]
    restored = GAME.restore(old)
    GAME.tick(restored)
    assert restored.ships[0].x == 491.0  # held controls, as that release moved them
