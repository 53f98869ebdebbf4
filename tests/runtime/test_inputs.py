"""The server's input buffer on its own: one input per seat per tick, a backlog drained."""

from games.runtime.match.inputs import DRAIN_AFTER_TICKS, MAX_DEPTH, TARGET_DEPTH, InputBuffer


def merge(older: tuple, newer: tuple) -> tuple:
    """Inputs here are (seq, movement): merged, the newer seq with both movements."""
    return (newer[0], older[1] + newer[1])


def seqs(taken: list) -> list:
    return [(seat, data[0]) for seat, data, _ in taken]


def test_bunched_inputs_are_applied_one_per_tick_in_the_order_sent():
    buffer = InputBuffer(queued=True, merge=merge)
    for seq in (1, 2, 3):
        buffer.put(0, (seq, 1), "a")
    buffer.put(1, (7, 1), "b")
    assert seqs(buffer.take()) == [(0, 1), (1, 7)]
    assert seqs(buffer.take()) == [(0, 2)]
    assert seqs(buffer.take()) == [(0, 3)]
    assert buffer.take() == [] and not buffer  # empty: the game's last controls hold
    assert buffer.take_merged() == 0


def test_one_input_in_reserve_is_kept_for_as_long_as_it_is_needed():
    # A late input, then a double: one waits a tick from then on, absorbing the next one
    # late, and is never merged away (it is the target depth).
    buffer = InputBuffer(queued=True, merge=merge)
    seq = 0
    applied = []
    for tick in range(100):
        arrivals = 0 if tick == 5 else 2 if tick == 6 else 1
        for _ in range(arrivals):
            seq += 1
            buffer.put(0, (seq, 1), "a")
        applied += [data[0] for _, data, _ in buffer.take()]
        assert buffer.depth(0) <= TARGET_DEPTH
    assert applied == list(range(1, len(applied) + 1))  # every one, in order
    assert buffer.take_merged() == 0


def test_a_backlog_that_persists_is_drained_by_merging_the_oldest():
    buffer = InputBuffer(queued=True, merge=merge)
    seq = 0
    for _ in range(5):  # a stall, then five inputs at once
        seq += 1
        buffer.put(0, (seq, 1), "a")
    movement = 0
    waits = []
    for _ in range(DRAIN_AFTER_TICKS + 20):
        seq += 1
        buffer.put(0, (seq, 1), "a")  # and one per tick from then on
        ((_, (applied, moved), _),) = buffer.take()
        movement += moved
        waits.append(seq - applied)
    # The backlog of four is played out as sent for a while, then merged down to the
    # target: the delay an input waits falls back to one tick and stays there.
    assert waits[: DRAIN_AFTER_TICKS - 1] == [5] * (DRAIN_AFTER_TICKS - 1)
    assert waits[-5:] == [TARGET_DEPTH] * 5
    assert buffer.take_merged() == 4
    assert movement + buffer.depth(0) == seq  # merged, not lost


def test_without_a_merge_the_oldest_are_dropped_and_counted():
    buffer = InputBuffer(queued=True, merge=lambda older, newer: None)
    for seq in range(1, MAX_DEPTH + 3):
        buffer.put(0, (seq, 1), "a")
    assert buffer.depth(0) == MAX_DEPTH
    assert seqs(buffer.take()) == [(0, 3)]  # 1 and 2 gave way
    assert buffer.take_merged() == 2


def test_a_queue_never_holds_more_than_its_bound():
    buffer = InputBuffer(queued=True, merge=merge)
    for seq in range(1, 101):
        buffer.put(0, (seq, 1), "a")
    assert buffer.depth(0) == MAX_DEPTH
    ((_, (seq, moved), _),) = buffer.take()
    assert (seq, moved) == (100 - MAX_DEPTH + 1, 100 - MAX_DEPTH + 1)


def test_turn_based_games_keep_the_newest_input_of_a_tick():
    buffer = InputBuffer(queued=False, merge=merge)
    buffer.put(0, (1, 0), "a")
    buffer.put(0, (2, 0), "a")
    assert seqs(buffer.take()) == [(0, 2)]
    assert buffer.take() == []


def test_the_servers_own_input_replaces_what_waited():
    buffer = InputBuffer(queued=True, merge=merge)
    buffer.put(0, (1, 1), "a")
    buffer.put(0, (2, 1), "a")
    buffer.replace(0, (3, 0), None)
    assert buffer.take() == [(0, (3, 0), None)]
    assert not buffer
