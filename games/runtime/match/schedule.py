"""The tick loop's clock: deadlines at absolute times, catching up or skipping ahead.

Synchronous and I/O-free: the runner reads the clock and sleeps. Imports: nothing.
"""

from __future__ import annotations

# Past this many ticks behind schedule the loop skips ahead instead of racing to catch up.
MAX_LAG_TICKS = 5


class TickSchedule:
    """Tick deadlines at absolute times start + n * period on the monotonic clock.

    Work done in a tick never delays the next deadline (no drift). A loop that
    falls behind catches up tick by tick, unless it is more than MAX_LAG_TICKS
    behind: then it skips to the present and counts what it skipped.
    """

    def __init__(self, period: float, start: float) -> None:
        self.period = period
        self.start = start
        self.ticks = 0
        self.skipped = 0
        self.just_skipped = 0

    def delay_until_next(self, now: float) -> float:
        """Seconds to wait before running the next tick (0: run it now)."""
        self.ticks += 1
        self.just_skipped = 0
        late = now - (self.start + self.ticks * self.period)
        if late > MAX_LAG_TICKS * self.period:
            self.just_skipped = int(late / self.period)
            self.ticks += self.just_skipped
            self.skipped += self.just_skipped
        return max(0.0, self.start + self.ticks * self.period - now)
