"""The runner's tick deadlines: absolute, drift-free, skipping only when far behind."""

import pytest

from games.runtime.match.schedule import MAX_LAG_TICKS, TickSchedule


def test_deadlines_are_absolute_so_work_time_does_not_drift():
    schedule = TickSchedule(period=0.05, start=100.0)
    assert schedule.delay_until_next(100.0) == pytest.approx(0.05)
    # The first tick's work took 30 ms past its deadline: the next one still lands on 100.10.
    assert schedule.delay_until_next(100.08) == pytest.approx(0.02)
    # 1000 ticks later the schedule is still exactly on the grid.
    for _ in range(1000):
        now = schedule.start + schedule.ticks * schedule.period + 0.01
        schedule.delay_until_next(now)
    assert schedule.delay_until_next(schedule.start + schedule.ticks * 0.05) == pytest.approx(0.05)
    assert schedule.skipped == 0


def test_a_short_stall_is_caught_up_tick_by_tick():
    schedule = TickSchedule(period=0.05, start=0.0)
    schedule.delay_until_next(0.0)
    # 3 ticks late: run the missed ticks at once, without waiting and without skipping.
    assert [schedule.delay_until_next(0.25) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert schedule.skipped == 0


def test_a_long_stall_skips_ahead_and_counts_it():
    schedule = TickSchedule(period=0.05, start=0.0)
    schedule.delay_until_next(0.0)
    delay = schedule.delay_until_next(1.0)  # a one-second stall: 19 ticks late
    assert schedule.just_skipped > MAX_LAG_TICKS
    assert schedule.skipped == schedule.just_skipped
    assert 0.0 <= delay < 0.05
    assert schedule.delay_until_next(1.0 + delay) == pytest.approx(0.05)
