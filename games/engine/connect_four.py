"""Connect Four: two players drop discs into a 7x6 grid; four in a row wins.

A player who lets the turn clock run out, or abandons the match, forfeits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import msgspec

from games.engine.base import JSON, Event, Game, IllegalInput, Outcome, SeatOutcome

if TYPE_CHECKING:
    from games.engine.connect_four_bot import ConnectFourBot

COLUMNS = 7
ROWS = 6
EMPTY = -1
_DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))


class ConnectFourInput(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A move: drop a disc into `column`, 0 (left) to 6 (right)."""

    column: Annotated[int, msgspec.Meta(ge=0, le=COLUMNS - 1)]


@dataclass
class ConnectFourState:
    turn_ticks: int
    # board[column] lists the seats of the discs in that column, bottom first.
    board: list[list[int]] = field(default_factory=lambda: [[] for _ in range(COLUMNS)])
    tick: int = 0
    to_move: int = 0
    moves: int = 0
    turn_deadline: int = 0
    winner: int | None = None
    line: list[tuple[int, int]] = field(default_factory=list)
    finished: bool = False
    reason: str = ""


class ConnectFour(Game[ConnectFourState]):
    key = "connect_four"
    title = "Connect Four"
    description = "Drop discs, connect four in a row. Two players, one turn at a time."
    state_class = ConnectFourState
    turn_based = True
    Input = ConnectFourInput
    min_players = 2
    max_players = 2
    tick_rate = 10

    def defaults(self) -> JSON:
        return {"turn_seconds": 30}

    def setting_ranges(self) -> dict[str, tuple[int, int]]:
        return {"turn_seconds": (5, 300)}

    def initial_state(self, settings: JSON, seats: int, seed: int) -> ConnectFourState:
        turn_ticks = int(settings["turn_seconds"]) * self.tick_rate
        # The seed decides who opens, so neither seat always has the first-move edge.
        first = seed % 2
        return ConnectFourState(turn_ticks=turn_ticks, to_move=first, turn_deadline=turn_ticks)

    def apply_input(
        self, state: ConnectFourState, seat: int, data: ConnectFourInput
    ) -> list[Event]:
        if state.finished:
            raise IllegalInput("The game is over.", code="game_over")
        if seat != state.to_move:
            raise IllegalInput("It is not your turn.", code="not_your_turn")
        if len(state.board[data.column]) >= ROWS:
            raise IllegalInput("That column is full.", code="column_full")
        return self._drop(state, seat, data.column)

    def _drop(self, state: ConnectFourState, seat: int, column: int) -> list[Event]:
        state.board[column].append(seat)
        state.moves += 1
        row = len(state.board[column]) - 1
        events = [Event("move", {"seat": seat, "column": column, "row": row})]
        line = _winning_line(state.board, column, row)
        if line:
            state.winner, state.line = seat, line
            self._finish(state, "four in a row")
        elif state.moves == COLUMNS * ROWS:
            self._finish(state, "the board is full")
        else:
            state.to_move = 1 - seat
            state.turn_deadline = state.tick + state.turn_ticks
            events.append(Event("turn", {"seat": state.to_move}))
        return events

    def _finish(self, state: ConnectFourState, reason: str) -> None:
        state.finished = True
        state.reason = reason

    def tick(self, state: ConnectFourState) -> list[Event]:
        if state.finished:
            return []
        state.tick += 1
        if state.tick < state.turn_deadline:
            return []
        loser = state.to_move
        return self._forfeit(state, loser, "ran out of time")

    def remove_seat(self, state: ConnectFourState, seat: int) -> list[Event]:
        if state.finished:
            return []
        return self._forfeit(state, seat, "left the match")

    def _forfeit(self, state: ConnectFourState, seat: int, why: str) -> list[Event]:
        state.winner = 1 - seat
        self._finish(state, f"player {seat + 1} {why}")  # seat 0 is Player 1
        return [Event("forfeit", {"seat": seat, "reason": why})]

    def turn_seat(self, state: ConnectFourState) -> int | None:
        return None if state.finished else state.to_move

    def bot(self, level: str, seat: int, seed: int, settings: JSON) -> ConnectFourBot:
        from games.engine import connect_four_bot  # it builds on this module

        turn_ticks = int(settings["turn_seconds"]) * self.tick_rate
        return connect_four_bot.make(level, seat, seed, turn_ticks, self.tick_rate)

    def outcome(self, state: ConnectFourState) -> Outcome | None:
        if not state.finished:
            return None
        if state.winner is None:
            draw = tuple(SeatOutcome(s, "draw", 0, 1) for s in (0, 1))
            return Outcome(draw, f"Draw: {state.reason}.")
        loser = 1 - state.winner
        seats = (
            SeatOutcome(state.winner, "win", 1, 1),
            SeatOutcome(loser, "loss", 0, 2),
        )
        return Outcome(
            tuple(sorted(seats, key=lambda s: s.seat)),
            f"Player {state.winner + 1} wins: {state.reason}.",  # seat 0 is Player 1
        )

    def view(self, state: ConnectFourState, seat: int | None) -> JSON:
        return {
            "tick": state.tick,
            "board": [list(column) for column in state.board],
            "to_move": state.to_move,
            "turn_ticks_left": max(0, state.turn_deadline - state.tick),
            "moves": state.moves,
            "winner": state.winner,
            "line": [list(cell) for cell in state.line],
            "finished": state.finished,
        }

    def current_tick(self, state: ConnectFourState) -> int:
        return state.tick


def _cell(board: list[list[int]], column: int, row: int) -> int:
    if 0 <= column < COLUMNS and 0 <= row < len(board[column]):
        return board[column][row]
    return EMPTY


def _winning_line(board: list[list[int]], column: int, row: int) -> list[tuple[int, int]]:
    """The cells of a line of four or more through (column, row), or []."""
    seat = board[column][row]
    for dc, dr in _DIRECTIONS:
        line = [(column, row)]
        for sign in (1, -1):
            c, r = column + sign * dc, row + sign * dr
            while _cell(board, c, r) == seat:
                line.append((c, r))
                c, r = c + sign * dc, r + sign * dr
        if len(line) >= 4:
            return sorted(line)
    return []
