"""Connect Four's computer player: a bitboard alpha-beta search, at three levels.

- easy: takes a win in one only most of the time, blocks only about half the
  time, and otherwise plays a random move that does not hand over a win in one,
  or a two-ply search;
- normal: a four-ply search (it sees wins and blocks, not deep traps);
- hard: always takes a win in one and always blocks a loss in one, then
  deepens its search ply by ply within a budget of positions (not of time, so
  that its moves depend on nothing but the position and the seed).

Every level answers after a delay drawn from the seed (0.6 to 1.5 s worth of
ticks), and breaks ties between equally good moves at random, so two games
between the same levels differ. The board is two integers (Pascal Pons' layout):
bit `7 * column + row` for each cell, one spare bit on top of each column.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from games.engine import bots
from games.engine.base import JSON
from games.engine.connect_four import COLUMNS, ROWS, ConnectFourInput

_STRIDE = ROWS + 1
_CELLS = COLUMNS * ROWS
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: the best moves first make the search prune most
_COLUMN = tuple(((1 << ROWS) - 1) << (c * _STRIDE) for c in range(COLUMNS))
_BOTTOM_ROW = sum(1 << (c * _STRIDE) for c in range(COLUMNS))
_BOARD = _BOTTOM_ROW * ((1 << ROWS) - 1)
_WIN = 1000  # a win scores _WIN minus the discs played by then: the sooner the better
_NEVER = -10_000

DELAY_SECONDS = (0.6, 1.5)
#: Positions a decision may visit: the search's budget, and what bounds a move's time.
NODE_BUDGET = {"easy": 1_000, "normal": 4_000, "hard": 12_000}
_DEPTH = {"easy": 2, "normal": 4, "hard": 12}
_EASY_TAKES_WIN = 0.7
_EASY_BLOCKS = 0.5
_EASY_RANDOM = 0.4


@dataclass(frozen=True)
class ConnectFourBot:
    """A computer player for one seat; it keeps no memory between ticks (see `bots`)."""

    level: bots.Level
    seat: int
    seed: int
    turn_ticks: int
    tick_rate: int

    def decide(self, view: JSON, tick: int) -> ConnectFourInput | None:
        """A move once its turn has lasted the drawn delay; None before, or when not its turn."""
        if view["finished"] or view["to_move"] != self.seat:
            return None
        rng = bots.rng(self.seed, self.seat, view["moves"])
        low, high = DELAY_SECONDS
        delay = min(round(rng.uniform(low, high) * self.tick_rate), self.turn_ticks // 2)
        if self.turn_ticks - view["turn_ticks_left"] < delay:
            return None
        mine, mask = _bitboards(view["board"], self.seat)
        return ConnectFourInput(column=choose(self.level, mine, mask, rng))


def make(level: str, seat: int, seed: int, turn_ticks: int, tick_rate: int) -> ConnectFourBot:
    """The bot for `seat` at `level` (raises bots.UnknownLevel)."""
    return ConnectFourBot(bots.check_level(level), seat, seed, turn_ticks, tick_rate)


def choose(level: bots.Level, mine: int, mask: int, rng: random.Random) -> int:
    """The column `level` plays with discs `mine` (the player to move) on board `mask`."""
    wins = _columns(_threats(mine, mask) & _landing(mask))
    blocks = _columns(_threats(mine ^ mask, mask) & _landing(mask))
    legal = _columns(_landing(mask))
    if level == "easy":
        return _easy(mine, mask, rng, wins, blocks, legal)
    if level == "hard" and wins:
        return wins[0]
    if level == "hard" and blocks:
        return blocks[0]  # two threats at once cannot both be blocked: any is as good
    return rng.choice(search(mine, mask, _DEPTH[level], NODE_BUDGET[level]).best)


def _easy(
    mine: int, mask: int, rng: random.Random, wins: list[int], blocks: list[int], legal: list[int]
) -> int:
    if wins:
        return wins[0] if rng.random() < _EASY_TAKES_WIN else rng.choice(legal)
    if blocks:
        return blocks[0] if rng.random() < _EASY_BLOCKS else rng.choice(legal)
    if rng.random() < _EASY_RANDOM:
        safe = [c for c in legal if not _gives_win(mine, mask, c)]
        return rng.choice(safe or legal)
    return rng.choice(search(mine, mask, _DEPTH["easy"], NODE_BUDGET["easy"]).best)


@dataclass
class Searched:
    """The best columns found (ties kept), their score, the depth completed, positions visited."""

    best: list[int]
    score: int
    depth: int
    nodes: int


class _OutOfBudget(Exception):
    pass


def search(mine: int, mask: int, max_depth: int, budget: int) -> Searched:
    """Iterative deepening to `max_depth` plies, stopping when `budget` positions are spent.

    The answer is the deepest search that finished (depth 1 always does: it is
    at most 7 positions). A proven win or loss ends the deepening early.
    """
    counter = [0]
    found = Searched(_columns(_landing(mask)), 0, 0, 0)
    for depth in range(1, max_depth + 1):
        try:
            best, score = _root(mine, mask, depth, counter, budget if depth > 1 else 10**9)
        except _OutOfBudget:
            break
        found = Searched(best, score, depth, counter[0])
        if abs(score) > _WIN // 2 or (mask.bit_count() + depth) >= _CELLS:
            break
    found.nodes = counter[0]
    return found


def _root(
    mine: int, mask: int, depth: int, counter: list[int], budget: int
) -> tuple[list[int], int]:
    best: list[int] = []
    best_score = _NEVER
    moves = mask.bit_count()
    for column in _ORDER:
        move = _landing(mask) & _COLUMN[column]
        if not move:
            continue
        if _aligned(mine | move):
            score = _WIN - (moves + 1)
        else:
            # alpha is best - 1 so that a move as good as the best scores exactly: ties are kept.
            score = -_negamax(
                mine ^ mask, mask | move, depth - 1, -_WIN, 1 - best_score, counter, budget
            )
        if score > best_score:
            best, best_score = [column], score
        elif score == best_score:
            best.append(column)
    return best, best_score


def _negamax(
    mine: int, mask: int, depth: int, alpha: int, beta: int, counter: list[int], budget: int
) -> int:
    """The score of the position for `mine`, the player to move (fail-hard alpha-beta)."""
    counter[0] += 1
    if counter[0] > budget:
        raise _OutOfBudget
    moves = mask.bit_count()
    if moves == _CELLS:
        return 0
    landing = _landing(mask)
    ours = _threats(mine, mask)
    if ours & landing:
        return _WIN - (moves + 1)
    theirs = mine ^ mask
    against = _threats(theirs, mask)
    forced = against & landing
    if forced:
        if forced & (forced - 1):
            return -(_WIN - (moves + 2))  # two threats: one of them wins next move
        landing = forced
    if depth == 0:
        # Open cells that would complete a four, and discs in the centre: far below a win.
        centre = (mine & _COLUMN[3]).bit_count() - (theirs & _COLUMN[3]).bit_count()
        return 4 * (ours.bit_count() - against.bit_count()) + centre
    for column in _ORDER:
        move = landing & _COLUMN[column]
        if not move:
            continue
        score = -_negamax(theirs, mask | move, depth - 1, -beta, -alpha, counter, budget)
        if score >= beta:
            return beta
        alpha = max(alpha, score)
    return alpha


def _threats(discs: int, mask: int) -> int:
    """The empty cells that would complete a line of four of `discs`."""
    found = (discs << 1) & (discs << 2) & (discs << 3)  # vertical: three below
    for shift in (_STRIDE, ROWS, _STRIDE + 1):  # horizontal, and the two diagonals
        pair = (discs << shift) & (discs << 2 * shift)
        found |= pair & (discs << 3 * shift)
        found |= pair & (discs >> shift)
        pair = (discs >> shift) & (discs >> 2 * shift)
        found |= pair & (discs << shift)
        found |= pair & (discs >> 3 * shift)
    return found & (_BOARD ^ mask)


def _aligned(discs: int) -> bool:
    """Whether `discs` hold four in a row anywhere."""
    for shift in (1, _STRIDE, ROWS, _STRIDE + 1):
        pair = discs & (discs >> shift)
        if pair & (pair >> 2 * shift):
            return True
    return False


def _landing(mask: int) -> int:
    """The cell where a disc dropped in each column lands (none for a full column)."""
    return (mask + _BOTTOM_ROW) & _BOARD


def _gives_win(mine: int, mask: int, column: int) -> bool:
    """Whether dropping in `column` lets the opponent win with their next disc."""
    after = mask | (_landing(mask) & _COLUMN[column])
    return bool(_threats(mine ^ mask, after) & _landing(after))


def _columns(cells: int) -> list[int]:
    return [c for c in _ORDER if cells & _COLUMN[c]]


def _bitboards(board: list[list[int]], seat: int) -> tuple[int, int]:
    """The discs of `seat` and of both players, from a view's columns (bottom first)."""
    mine = mask = 0
    for column, discs in enumerate(board):
        for row, owner in enumerate(discs):
            bit = 1 << (column * _STRIDE + row)
            mask |= bit
            if owner == seat:
                mine |= bit
    return mine, mask
