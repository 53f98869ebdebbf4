"""One live match: the authority that runs it on this process's event loop.

- `runner`: MatchRunner: the tick loop, the validation order, the roster of seats,
  the state fan-out with its delta history, checkpoints; waiting -> active ->
  finished or aborted.
- `schedule`: TickSchedule, the tick loop's clock.
- `ports`: the Store, Transport and Checkpoints protocols a runner is handed, and
  the rows it reads (MatchInfo, SeatRow), so tests can hand it fakes.
- `store`: DatabaseStore, the runner's async calls over services on the sync thread
  (retried while the database is unreachable); the runtime's only door to the ORM.

Same import rules as `games.runtime`.
"""
