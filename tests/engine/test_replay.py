"""Determinism: a full match replayed from seed, settings and input log ends identically."""

import random

from games.engine import get_game
from games.engine.replay import replay


def play_arena(seed: int):
    """Drive a full arena match like the runner does, recording applied inputs."""
    game = get_game("arena")
    settings = game.settings({"time_limit_seconds": 30, "score_limit": 5})
    state = game.initial_state(settings, 4, seed)
    driver = random.Random(seed ^ 0xABCDEF)  # the "players"; not part of the state
    log, seqs = [], [0] * 4
    while game.outcome(state) is None:
        for seat in range(4):
            if driver.random() < 0.3 and not state.ships[seat].removed:
                seqs[seat] += 1
                data = {
                    "seq": seqs[seat],
                    "mx": driver.uniform(-1, 1),
                    "my": driver.uniform(-1, 1),
                    "aim": driver.uniform(0, 6.28),
                    "fire": driver.random() < 0.6,
                }
                game.apply_input(state, seat, game.parse_input(data))
                log.append((game.current_tick(state), seat, data))
        if game.current_tick(state) == 200:
            game.remove_seat(state, 3)
            log.append((200, 3, None))
        game.tick(state)
    return game, settings, state, log


def test_an_arena_match_replays_to_the_same_final_state():
    game, settings, final, log = play_arena(seed=1234)
    again = replay(game, settings, 4, 1234, log)
    assert game.view(again, None) == game.view(final, None)
    assert game.outcome(again) == game.outcome(final)
    assert any(s.score > 0 for s in final.ships), "the match had some action"


def test_a_different_seed_gives_a_different_match():
    game, settings, final, log = play_arena(seed=1234)
    other = replay(game, settings, 4, 999, log)
    assert game.view(other, None) != game.view(final, None)


def test_a_connect_four_match_replays_to_the_same_final_state():
    game = get_game("connect_four")
    settings = game.settings({})
    state = game.initial_state(settings, 2, 42)
    driver = random.Random(42)
    log = []
    while game.outcome(state) is None:
        for _ in range(driver.randint(0, 30)):
            game.tick(state)
        column = driver.choice([c for c in range(7) if len(state.board[c]) < 6])
        seat = state.to_move
        if game.outcome(state) is None:
            game.apply_input(state, seat, game.parse_input({"column": column}))
            log.append((game.current_tick(state), seat, {"column": column}))
    again = replay(game, settings, 2, 42, log)
    assert game.view(again, 0) == game.view(state, 0)
    assert game.outcome(again) == game.outcome(state)
