"""One live match: the authority that runs it on this process's event loop.

- `runner`: MatchRunner: the tick loop, the validation order, the lifecycle
  (waiting -> active -> finished or aborted), one method per kind of operation.
- `ops`: the operations a runner takes (Join, Leave, Ready, Input, Resync,
  Aborted), declared types; decoded from Redis at the process's boundary.
- `roster`: Roster and Seat: the seats, their sockets, grace, abandonment.
- `encoder`: StateEncoder: each tick's state once per audience and encoding.
- `checkpointing`: Checkpointer: when a checkpoint is due, what it holds.
- `schedule`: TickSchedule, the tick loop's clock.
- `ports`: the Store, Transport and Checkpoints protocols a runner is handed, and
  the rows it reads (MatchInfo, SeatRow), so tests can hand it fakes.
- `store`: DatabaseStore, the runner's async calls over services on the sync thread
  (retried while the database is unreachable); the runtime's only door to the ORM.

Same import rules as `games.runtime`; `roster`, `encoder`, `checkpointing`,
`schedule` and `ops` are synchronous and do no I/O (no asyncio, Django, Redis
or services): the runner awaits for them.
"""
