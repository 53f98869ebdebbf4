"""Computer players in the pure engine: the hook, determinism, schema, and how well they play."""

import copy
import itertools
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from games.engine import GAMES, bots, connect_four_bot, get_game, replay
from games.engine.arena import HEIGHT, SHIP_RADIUS, WIDTH
from games.engine.connect_four import COLUMNS, ROWS

FOUR = get_game("connect_four")
ARENA = get_game("arena")
FOUR_SETTINGS = FOUR.settings({})
ARENA_SETTINGS = ARENA.settings({"time_limit_seconds": 30})


def two_bots(game, level_0, level_1, seed, match_settings):
    return {
        0: game.bot(level_0, 0, seed, match_settings),
        1: game.bot(level_1, 1, seed, match_settings),
    }


def play(game, match_settings, seed, bots_by_seat, seats=2):
    return bots.simulate(game, match_settings, seats, seed, bots_by_seat, max_ticks=100_000)


# --- The hook ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(GAMES))
@pytest.mark.parametrize("level", bots.LEVELS)
def test_every_game_has_a_bot_at_every_level(key, level):
    game = get_game(key)
    bot = game.bot(level, 1, 7, game.settings({}))
    assert bot is not None and bot.seat == 1 and bot.level == level


@pytest.mark.parametrize("key", sorted(GAMES))
def test_an_unknown_level_is_refused(key):
    game = get_game(key)
    with pytest.raises(bots.UnknownLevel, match="Unknown bot level 'godlike'"):
        game.bot("godlike", 0, 1, game.settings({}))


class _Spy:
    seat = 1
    level = "easy"

    def __init__(self):
        self.seen = []

    def decide(self, view, tick):
        self.seen.append((view, tick))
        return None


@pytest.mark.parametrize("key", sorted(GAMES))
def test_a_bot_is_shown_its_seats_view_and_the_tick(key):
    game = get_game(key)
    state = game.initial_state(game.settings({}), 2, 3)
    game.tick(state)
    spy = _Spy()
    assert bots.decide(game, spy, state) is None
    assert spy.seen == [(game.view(state, 1), 1)]


# --- Determinism, schema, replay ---------------------------------------------------------


# Every registered game with bots, at every level (the arena's matches kept short).
_SETTINGS = {"connect_four": FOUR_SETTINGS, "arena": ARENA_SETTINGS}
MATCHES = [
    pytest.param(
        game, _SETTINGS.get(key, game.settings({})), first, second, id=f"{key}-{first}-{second}"
    )
    for key, game in sorted(GAMES.items())
    if game.bot("easy", 0, 0, game.settings({})) is not None
    for first, second in (("hard", "normal"), ("easy", "easy"), ("normal", "hard"))
]


@pytest.mark.parametrize(("game", "match_settings", "first", "second"), MATCHES)
def test_the_same_seed_plays_the_same_inputs(game, match_settings, first, second):
    runs = [play(game, match_settings, 11, two_bots(game, first, second, 11, match_settings))]
    runs.append(play(game, match_settings, 11, two_bots(game, first, second, 11, match_settings)))
    other = play(game, match_settings, 12, two_bots(game, first, second, 12, match_settings))
    assert runs[0].log == runs[1].log and runs[0].log
    assert other.log != runs[0].log  # the seed does drive the bots


@pytest.mark.parametrize(("game", "match_settings", "first", "second"), MATCHES)
def test_a_bot_vs_bot_match_ends_with_a_result_that_its_log_replays(
    game, match_settings, first, second
):
    played = play(game, match_settings, 5, two_bots(game, first, second, 5, match_settings))
    outcome = game.outcome(played.state)
    assert outcome is not None and played.refused == []
    replayed = replay.replay(game, match_settings, 2, 5, played.log)
    assert game.view(replayed, None) == game.view(played.state, None)
    assert game.outcome(replayed) == outcome


class _Checked:
    """Wraps a bot: every input it decides must be an instance of the game's Input
    that survives the trip through the schema unchanged."""

    def __init__(self, game, bot):
        self.game, self.bot, self.inputs = game, bot, 0
        self.seat, self.level = bot.seat, bot.level

    def decide(self, view, tick):
        data = self.bot.decide(view, tick)
        if data is not None:
            assert isinstance(data, self.game.Input)
            assert self.game.parse_input(self.game.dump_input(data)) == data
            self.inputs += 1
        return data


@pytest.mark.parametrize(("game", "match_settings", "first", "second"), MATCHES)
def test_every_decision_fits_the_games_input_schema(game, match_settings, first, second):
    checked = {
        seat: _Checked(game, bot)
        for seat, bot in two_bots(game, first, second, 8, match_settings).items()
    }
    play(game, match_settings, 8, checked)
    assert all(c.inputs > 0 for c in checked.values())


# --- Connect Four ------------------------------------------------------------------------


def _four_after(columns, seed):
    """The state after playing the legal ones of `columns`, stopping before the game ends."""
    state = FOUR.initial_state(FOUR_SETTINGS, 2, seed)
    for column in columns:
        if len(state.board[column]) >= ROWS:
            continue
        trial = copy.deepcopy(state)
        FOUR.apply_input(trial, trial.to_move, FOUR.parse_input({"column": column}))
        if FOUR.outcome(trial) is not None:
            break
        state = trial
    return state


def _wins_for(state, seat):
    """Columns where a disc of `seat` would make four, by the game's own rules."""
    found = set()
    for column in range(COLUMNS):
        if len(state.board[column]) < ROWS:
            trial = copy.deepcopy(state)
            trial.to_move = seat
            FOUR.apply_input(trial, seat, FOUR.parse_input({"column": column}))
            if trial.winner == seat:
                found.add(column)
    return found


def _hard_move(state, seed):
    seat = state.to_move
    bot = FOUR.bot("hard", seat, seed, FOUR_SETTINGS)
    for _ in range(2 * FOUR.tick_rate):  # past any delay it may draw, well within the clock
        move = bot.decide(FOUR.view(state, seat), state.tick)
        if move is not None:
            return move.column
        FOUR.tick(state)
    raise AssertionError("the bot never answered")


# Random games rather than lists shrunk towards zeros: most of them reach a position
# with a four to make or to stop, which is what these properties are about.
positions = st.builds(
    lambda moves, rng: [rng.randrange(COLUMNS) for _ in range(moves)],
    st.integers(4, 40),
    st.randoms(use_true_random=False),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns=positions, seed=st.integers(0, 2**31))
def test_hard_always_takes_a_win_in_one(columns, seed):
    state = _four_after(columns, seed)
    wins = _wins_for(state, state.to_move)
    if wins:
        event("a win to take")
        assert _hard_move(state, seed) in wins


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns=positions, seed=st.integers(0, 2**31), swap=st.booleans())
def test_hard_always_blocks_a_loss_in_one(columns, seed, swap):
    state = _four_after(columns, seed)
    if swap:
        # The same discs with the other player to move: _four_after stops where the mover
        # could win, so this is where the other player must block.
        state.to_move = 1 - state.to_move
    threats = _wins_for(state, 1 - state.to_move)
    if not _wins_for(state, state.to_move) and len(threats) == 1:
        event("a single threat to block")
        assert _hard_move(state, seed) in threats


def test_hard_takes_a_win_and_a_block_in_fixed_positions():
    # Seat 0 has three in column 0 and seat 1 three in column 1; seat 0 to move wins at 0.
    state = _four_after([0, 1, 0, 1, 0, 1], seed=0)
    assert state.to_move == 0 and _hard_move(state, 0) == 0
    # Seat 1 to move must block column 0 (it has no four of its own to make).
    state = _four_after([0, 1, 0, 1, 0, 6], seed=1)
    assert state.to_move == 1 and _hard_move(state, 1) == 0


def test_easy_sometimes_misses_a_win_in_one():
    state = _four_after([0, 1, 0, 1, 0, 1], seed=0)
    taken = 0
    for seed in range(40):
        bot = FOUR.bot("easy", 0, seed, FOUR_SETTINGS)
        view = {**FOUR.view(state, 0), "turn_ticks_left": 0}
        taken += bot.decide(view, state.tick).column == 0
    assert 10 < taken < 40


def test_hard_beats_easy_in_most_games():
    wins = 0
    for seed in range(6):
        hard_seat = seed % 2
        levels = ("hard", "easy") if hard_seat == 0 else ("easy", "hard")
        played = play(FOUR, FOUR_SETTINGS, seed, two_bots(FOUR, *levels, seed, FOUR_SETTINGS))
        wins += played.state.winner == hard_seat
    assert wins >= 5


def test_a_bot_answers_after_a_human_looking_delay():
    seed = 4
    played = play(FOUR, FOUR_SETTINGS, seed, two_bots(FOUR, "normal", "easy", seed, FOUR_SETTINGS))
    ticks = [0] + [tick for tick, _, _ in played.log]
    waits = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    low, high = connect_four_bot.DELAY_SECONDS
    assert all(low * FOUR.tick_rate <= wait <= high * FOUR.tick_rate for wait in waits)
    assert len(set(waits)) > 1  # drawn, not fixed


def test_a_bot_is_silent_when_it_is_not_its_turn():
    state = FOUR.initial_state(FOUR_SETTINGS, 2, seed=0)  # seat 0 to move
    bot = FOUR.bot("hard", 1, 0, FOUR_SETTINGS)
    for _ in range(3 * FOUR.tick_rate):
        assert bots.decide(FOUR, bot, state) is None
        FOUR.tick(state)


@settings(max_examples=40, deadline=None)
@given(columns=st.lists(st.integers(0, COLUMNS - 1), max_size=12))
def test_the_search_stays_within_its_budget(columns):
    state = _four_after(columns, seed=0)
    mine, mask = connect_four_bot._bitboards(state.board, state.to_move)
    budget = connect_four_bot.NODE_BUDGET["hard"]
    found = connect_four_bot.search(mine, mask, 12, budget)
    assert found.depth >= 1 and found.nodes <= budget + 1
    assert all(len(state.board[c]) < ROWS for c in found.best)


# --- Arena -------------------------------------------------------------------------------


def test_arena_bots_hit_a_stationary_target():
    for level in bots.LEVELS:
        played = play(ARENA, ARENA_SETTINGS, 3, {0: ARENA.bot(level, 0, 3, ARENA_SETTINGS)})
        assert played.state.ships[0].score >= 1, level


def test_an_arena_bot_stays_alive_longer_than_a_ship_holding_still():
    killed_holding_still = killed_bot = 0
    for seed in range(3):
        hunter = ARENA.bot("hard", 0, seed, ARENA_SETTINGS)
        killed_holding_still += play(ARENA, ARENA_SETTINGS, seed, {0: hunter}).state.ships[0].score
        pair = {0: hunter, 1: ARENA.bot("normal", 1, seed, ARENA_SETTINGS)}
        killed_bot += play(ARENA, ARENA_SETTINGS, seed, pair).state.ships[0].score
    assert killed_bot * 2 < killed_holding_still


def _on_a_wall(ship):
    return (
        min(ship.x - SHIP_RADIUS, WIDTH - SHIP_RADIUS - ship.x) < 1.0
        or min(ship.y - SHIP_RADIUS, HEIGHT - SHIP_RADIUS - ship.y) < 1.0
    )


def test_arena_bots_move_and_keep_off_the_walls():
    seed, seats = 9, 4
    match = {s: ARENA.bot(bots.LEVELS[s % 3], s, seed, ARENA_SETTINGS) for s in range(seats)}
    played = play(ARENA, ARENA_SETTINGS, seed, match, seats=seats)
    on_wall = alive = 0
    start = {s.seat: (s.x, s.y) for s in ARENA.initial_state(ARENA_SETTINGS, seats, seed).ships}
    for state, _ in replay.steps(ARENA, ARENA_SETTINGS, seats, seed, played.log):
        for ship in state.ships:
            if ship.alive:
                alive += 1
                on_wall += _on_a_wall(ship)
    assert on_wall / alive < 0.03
    moved = [math.dist(start[s.seat], (s.x, s.y)) for s in played.state.ships]
    assert all(distance > 50 for distance in moved)


def test_arena_bots_fire_in_bursts():
    played = play(ARENA, ARENA_SETTINGS, 2, two_bots(ARENA, "hard", "hard", 2, ARENA_SETTINGS))
    triggers = [entry[2].get("fire", False) for entry in played.log if entry[1] == 0]
    switches = sum(a != b for a, b in itertools.pairwise(triggers))
    assert any(triggers) and not all(triggers) and switches >= 10


def test_arena_bot_inputs_number_up_even_before_the_last_one_is_applied():
    bot = ARENA.bot("hard", 0, 1, ARENA.settings({"tick_rate": 5}))  # it looks every tick
    state = ARENA.initial_state(ARENA.settings({"tick_rate": 5}), 2, 1)
    view = ARENA.view(state, 0)
    first, second = bot.decide(view, 10), bot.decide(view, 11)  # the same ack in both views
    assert first is not None and second is not None and second.seq > first.seq


def test_a_hard_arena_bot_outscores_an_easy_one():
    better = 0
    for seed in range(3):
        match = two_bots(ARENA, "hard", "easy", seed, ARENA_SETTINGS)
        ships = play(ARENA, ARENA_SETTINGS, seed, match).state.ships
        better += ships[0].score > ships[1].score
    assert better >= 2
