"""Checkpoint snapshots: a state dumped to JSON and loaded back continues identically."""

import json
import random

from games.engine import get_game
from games.engine.connect_four import ConnectFourState
from games.engine.snapshot import dump, load


def test_an_arena_state_survives_a_round_trip_and_continues_identically():
    game = get_game("arena")
    state = game.initial_state(game.settings({}), 4, seed=77)
    driver = random.Random(5)
    for seq in range(1, 200):
        for seat in range(4):
            data = {
                "seq": seq,
                "mx": driver.uniform(-1, 1),
                "my": driver.uniform(-1, 1),
                "aim": driver.uniform(0, 6),
                "fire": driver.random() < 0.5,
            }
            game.apply_input(state, seat, game.parse_input(data))
        game.tick(state)
    game.remove_seat(state, 2)
    copy = game.restore(json.loads(json.dumps(game.checkpoint(state))))
    assert game.view(copy, None) == game.view(state, None)
    # The generator state came along: both continue the same way, respawns included.
    for _ in range(300):
        game.tick(state)
        game.tick(copy)
    assert game.view(copy, None) == game.view(state, None)


def test_a_connect_four_state_survives_a_round_trip():
    game = get_game("connect_four")
    state = game.initial_state(game.settings({}), 2, seed=3)
    for column in (3, 3, 4, 2):
        game.apply_input(state, state.to_move, game.parse_input({"column": column}))
    copy = load(ConnectFourState, json.loads(json.dumps(dump(state))))
    assert copy == state
