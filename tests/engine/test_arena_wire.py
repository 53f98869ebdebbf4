"""The arena's compact state frames: what a client decodes is what the server meant."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.engine import arena_wire, get_game

GAME = get_game("arena")
RATE = GAME.tick_rate


def play(ticks: int, seats: int = 8, seed: int = 3):
    """Seeded random play, every ship moving, aiming and firing: (view, events) per tick."""
    state = GAME.initial_state(GAME.settings({"time_limit_seconds": 120}), seats, seed)
    players = random.Random(seed)
    frames = []
    for _ in range(ticks):
        for seat in range(seats):
            if players.random() < 0.9:  # now and then an input is late
                data = {
                    "seq": state.ships[seat].last_seq + players.randint(1, 2),
                    "mx": players.uniform(-1, 1),
                    "my": players.uniform(-1, 1),
                    "aim": players.uniform(-10, 10) % math.tau,  # as the arena takes it
                    "fire": players.random() < 0.5,
                }
                GAME.apply_input(state, seat, GAME.parse_input(data))
        events = [{"kind": e.kind, **e.data} for e in GAME.tick(state)]
        frames.append((GAME.view(state, None), events))
    return frames


def assert_same_view(decoded, served):
    """Ships exactly as the JSON view rounds them; bullets within half a unit."""
    assert decoded["tick"] == served["tick"]
    assert decoded["ticks_left"] == served["ticks_left"]
    assert decoded["finished"] == served["finished"]
    for mine, theirs in zip(decoded["ships"], served["ships"], strict=True):
        assert math.isclose(math.remainder(mine["aim"] - theirs["aim"], math.tau), 0, abs_tol=6e-4)
        assert {**mine, "aim": 0} == {**theirs, "aim": 0}
    assert [b[0] for b in decoded["bullets"]] == [b[0] for b in served["bullets"]]
    for mine, theirs in zip(decoded["bullets"], served["bullets"], strict=True):
        assert all(abs(a - b) <= 0.5 for a, b in zip(mine[1:], theirs[1:], strict=True))


def test_a_full_frame_carries_the_whole_view():
    for view, events in play(60)[-5:]:
        decoded, got_events = arena_wire.decode(
            arena_wire.encode(arena_wire.snapshot(view), events), None, RATE
        )
        assert_same_view(arena_wire.view(decoded, RATE), view)
        assert got_events == events


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lags=st.lists(st.integers(1, 6), min_size=40, max_size=40))
def test_deltas_against_acknowledged_states_rebuild_every_state(seed, lags):
    """A client acknowledging with a varying lag rebuilds each state from deltas alone."""
    frames = play(len(lags) + 10, seed=seed)
    snaps = [arena_wire.snapshot(view) for view, _ in frames]
    client = {}  # tick -> the snapshot this client decoded
    first, _ = arena_wire.decode(arena_wire.encode(snaps[0], frames[0][1]), None, RATE)
    client[first.tick] = first
    for index, lag in enumerate(lags, start=1):
        acked = max(t for t in client if t <= snaps[index].tick - lag) if index >= lag else None
        if acked is None:
            continue
        base = snaps[acked - snaps[0].tick]
        frame = arena_wire.encode(snaps[index], frames[index][1], base)
        decoded, events = arena_wire.decode(frame, client[acked], RATE)
        assert decoded.ships == snaps[index].ships
        assert events == frames[index][1]
        assert_same_view(arena_wire.view(decoded, RATE), frames[index][0])
        client[decoded.tick] = decoded


def test_every_event_of_the_arena_survives_the_trip():
    events = [
        {"kind": "started", "seats": 8},
        {"kind": "hit", "seat": 2, "by": 5},
        {"kind": "kill", "seat": 2, "by": 5},
        {"kind": "respawn", "seat": 2},
        {"kind": "removed", "seat": 7},
    ]
    snap = arena_wire.snapshot(play(1)[0][0])
    assert arena_wire.decode(arena_wire.encode(snap, events), None, RATE)[1] == events


def test_a_delta_refuses_a_base_too_old_or_from_another_match():
    frames = play(300, seats=2)
    old, new = (arena_wire.snapshot(frames[i][0]) for i in (0, 299))
    with pytest.raises(ValueError):
        arena_wire.encode(new, [], old)  # 299 ticks: more than the age byte holds
    with pytest.raises(ValueError):
        arena_wire.encode(old, [], new)  # a base newer than the state


def test_a_delta_is_a_fraction_of_a_full_frame():
    frames = play(200)
    snaps = [arena_wire.snapshot(view) for view, _ in frames]
    deltas = [
        len(arena_wire.encode(s, e, snaps[i]))
        for i, (s, (_, e)) in enumerate(zip(snaps[1:], frames[1:], strict=True))
    ]
    full = [len(arena_wire.encode(s, e)) for s, (_, e) in zip(snaps, frames, strict=True)]
    assert sum(deltas) / len(deltas) < 0.6 * sum(full) / len(full)
