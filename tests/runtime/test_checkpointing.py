"""When a checkpoint is due, and what the next one carries of the log."""

from __future__ import annotations

from games.engine import get_game
from games.runtime.match.checkpointing import Checkpointer


def test_due_once_a_second_of_ticks_and_after_a_move_of_a_turn_based_game():
    arena = Checkpointer(get_game("arena"), 20)
    assert not arena.due(19, moved=True)  # real time: moves do not count
    assert arena.due(20, moved=False)
    four = Checkpointer(get_game("connect_four"), 10)
    assert four.due(1, moved=True) and not four.due(9, moved=False) and four.due(10, moved=False)


def test_forced_it_is_due_at_once():
    checkpointer = Checkpointer(get_game("arena"), 20)
    checkpointer.stored(500, 0)
    assert not checkpointer.due(501, moved=False)
    checkpointer.force()
    assert checkpointer.due(501, moved=False)


def test_a_checkpoint_not_stored_leaves_its_log_for_the_next():
    checkpointer = Checkpointer(get_game("arena"), 20)
    log = [[1, 0, {"seq": 1}], [2, 1, {"seq": 1}]]
    assert checkpointer.new_log(log) == log
    assert not checkpointer.stored(20, 1)
    assert checkpointer.not_stored(40) and not checkpointer.not_stored(60)  # news once
    assert not checkpointer.due(79, moved=False)  # retried a second later, not every tick
    assert checkpointer.new_log(log) == log[1:]
    assert checkpointer.stored(80, 2)  # stored again: news
    checkpointer.log_lost()
    assert checkpointer.new_log(log) == log
