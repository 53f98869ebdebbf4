"""The arena's side of the netcode: lag-compensated hits, the `repeated` flag, merged inputs."""

import math

import pytest

from games.engine import arena_wire, get_game
from games.engine.arena import MAX_CLAIMED_LAG_MS, REWIND_LIMIT_MS, ArenaState
from games.engine.base import InvalidInput
from games.engine.replay import replay

GAME = get_game("arena")
RATE = 20  # the arena's default tick rate: a tick is 50 ms


def new(seats: int = 2, seed: int = 7) -> ArenaState:
    return GAME.initial_state(GAME.settings({}), seats, seed)


def feed(state: ArenaState, seat: int, log: list | None = None, **data) -> None:
    """Apply an input of `seat` (the next seq), logging it as the runner does."""
    data = {"seq": state.ships[seat].last_seq + 1, **data}
    parsed = GAME.parse_input(data)
    if log is not None:
        log.append([state.tick, seat, GAME.dump_input(parsed)])
    GAME.apply_input(state, seat, parsed)


def flying_target() -> ArenaState:
    """Ship 1 flying down at full speed from y=200 for 12 ticks; ship 0 still, 40 units to
    its left."""
    state = new()
    shooter, target = state.ships
    shooter.x, shooter.y, target.x, target.y = 400.0, 300.0, 440.0, 200.0
    feed(state, 1, my=1.0)
    for _ in range(12):
        GAME.tick(state)
    return state


def fire_at_where_it_was(state: ArenaState, ticks_ago: int, lag_ms: int) -> list:
    """Ship 0 fires straight right at the height ship 1 had `ticks_ago` ticks before the
    tick the shot is fired in (the bullet reaches it within that tick), claiming `lag_ms`.
    The events of that tick."""
    fired_in = state.tick + 1
    state.ships[0].y = 200.0 + 11.0 * (fired_in - ticks_ago)  # 11 units a tick from y=200
    feed(state, 0, aim=0.0, fire=True, lag=lag_ms)
    return GAME.tick(state)


def shot_at_where_the_target_was(ticks_ago: int, lag_ms: int):
    state = flying_target()
    return state, fire_at_where_it_was(state, ticks_ago, lag_ms)


def hits(events) -> list:
    return [e for e in events if e.kind == "hit"]


def test_a_shot_at_where_the_target_was_100_ms_ago_hits_with_compensation():
    state, events = shot_at_where_the_target_was(ticks_ago=2, lag_ms=100)
    assert [(e.data["seat"], e.data["by"]) for e in hits(events)] == [(1, 0)]
    assert state.ships[1].hp == 2


def test_the_same_shot_misses_without_compensation():
    state, events = shot_at_where_the_target_was(ticks_ago=2, lag_ms=0)
    assert hits(events) == []
    assert state.ships[1].hp == 3
    assert len(state.bullets) == 1  # it flies on past


def test_a_shot_at_where_the_target_is_now_misses_for_a_client_claiming_100_ms():
    # Compensation is not a bigger hit box: the target is judged where the shooter saw it.
    _, events = shot_at_where_the_target_was(ticks_ago=0, lag_ms=100)
    assert hits(events) == []


def test_a_claimed_5_s_lag_is_clamped_to_the_trail_kept():
    limit_ticks = REWIND_LIMIT_MS * RATE // 1000
    _, within = shot_at_where_the_target_was(ticks_ago=limit_ticks, lag_ms=5000)
    assert hits(within)  # judged REWIND_LIMIT_MS back, not 5 s
    # Three ticks further back (33 units: more than a ship's radius off what is judged).
    _, beyond = shot_at_where_the_target_was(ticks_ago=limit_ticks + 3, lag_ms=5000)
    assert hits(beyond) == []


def test_a_lag_beyond_any_claim_is_invalid_and_the_servers_bound_clamps_the_rest():
    with pytest.raises(InvalidInput) as refused:
        GAME.parse_input({"seq": 1, "lag": MAX_CLAIMED_LAG_MS + 1})
    assert refused.value.field == "lag"
    claimed = GAME.parse_input({"seq": 1, "lag": 5000})
    assert GAME.clamp_input(claimed, 250).lag == 250
    assert GAME.clamp_input(GAME.parse_input({"seq": 1, "lag": 80}), 250).lag == 80


def test_a_replay_of_the_log_hits_the_same():
    # Everything a compensated shot uses is in the log or derived from it.
    state = new(seats=4, seed=11)
    log: list = []
    turn = 0
    while not hits_so_far(state) and turn < 400:
        for seat, ship in enumerate(state.ships):
            target = state.ships[(seat + 1) % 4]
            aim = math.atan2(target.y - ship.y, target.x - ship.x)
            mx, my = math.cos(turn / 7 + seat), math.sin(turn / 5 - seat)
            feed(state, seat, log, mx=mx, my=my, aim=aim, fire=True, lag=50 * seat)
        GAME.tick(state)
        turn += 1
    for _ in range(60):
        feed(state, 0, log, mx=1.0, fire=True, lag=200)
        GAME.tick(state)
    assert hits_so_far(state) >= 2
    again = replay(GAME, GAME.settings({}), 4, 11, log, until_tick=state.tick)
    assert GAME.checkpoint(again) == GAME.checkpoint(state)
    restored = GAME.restore(GAME.checkpoint(state))  # the trail survives a checkpoint
    GAME.tick(restored)
    GAME.tick(state)
    assert GAME.checkpoint(restored) == GAME.checkpoint(state)


def hits_so_far(state: ArenaState) -> int:
    return sum(3 - s.hp for s in state.ships if s.alive) + 3 * sum(s.score for s in state.ships)


def test_a_ship_that_was_dead_then_cannot_be_hit_where_it_lay():
    state = flying_target()
    state.trail[-2][3 * 1 + 2] = 0.0  # ship 1 was out two ticks before the shot's tick
    assert hits(fire_at_where_it_was(state, ticks_ago=2, lag_ms=100)) == []


# --- The state says whether the last controls were repeated ---------------------------------


def test_the_view_says_a_tick_repeated_the_last_controls():
    state = new()
    feed(state, 0, mx=1.0)
    GAME.tick(state)
    first = GAME.view(state, None)["ships"]
    assert [s["repeated"] for s in first] == [False, True]  # seat 1 sent nothing
    x = state.ships[0].x
    GAME.tick(state)  # no input of seat 0 this tick: its ship flew on
    second = GAME.view(state, None)["ships"][0]
    assert second["repeated"] is True and second["ack"] == 1
    assert state.ships[0].x == pytest.approx(x + 11.0)
    feed(state, 0, mx=0.0)
    GAME.tick(state)
    assert GAME.view(state, None)["ships"][0]["repeated"] is False


def test_the_compact_frames_carry_the_repeated_flag():
    state = new()
    feed(state, 0, mx=1.0)
    GAME.tick(state)
    base = arena_wire.snapshot(GAME.view(state, None))
    GAME.tick(state)
    now = arena_wire.snapshot(GAME.view(state, None))
    full, _ = arena_wire.decode(arena_wire.encode(now, []), None, RATE)
    delta, _ = arena_wire.decode(arena_wire.encode(now, [], base), base, RATE)
    for decoded in (full, delta):
        assert [s["repeated"] for s in arena_wire.view(decoded, RATE)["ships"]] == [True, True]
    assert [s["repeated"] for s in arena_wire.view(base, RATE)["ships"]] == [False, True]


# --- Merging a backlog ------------------------------------------------------------------------


def test_merged_inputs_move_as_both_clamped_fire_if_either_and_take_the_newer_seq():
    older = GAME.parse_input({"seq": 4, "mx": 0.4, "my": -0.75, "aim": 1.0, "fire": True})
    newer = GAME.parse_input({"seq": 5, "mx": 0.8, "my": 0.25, "lag": 60})
    merged = GAME.merge_inputs(older, newer)
    assert merged == GAME.parse_input(
        {"seq": 5, "mx": 1.0, "my": -0.5, "aim": 1.0, "fire": True, "lag": 60}
    )
    again = GAME.merge_inputs(newer, GAME.parse_input({"seq": 6, "aim": -math.pi}))
    assert again.aim == -math.pi and not again.fire and again.mx == 0.8


def test_a_checkpoint_from_before_lag_compensation_still_restores():
    state = flying_target()
    fire_at_where_it_was(state, ticks_ago=2, lag_ms=0)  # a miss: a bullet in flight
    old = GAME.checkpoint(state)
    del old["state"]["trail"]
    for ship in old["state"]["ships"]:
        del ship["fed_tick"], ship["controls"]["rewind"]
    for bullet in old["state"]["bullets"]:
        del bullet["rewind"]
    restored = GAME.restore(old)
    assert [(s.x, s.y) for s in restored.ships] == [(s.x, s.y) for s in state.ships]
    assert len(restored.bullets) == 1
    GAME.tick(restored)  # and it plays on
    assert len(restored.trail) == 1
