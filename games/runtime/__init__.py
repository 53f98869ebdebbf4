"""What runs on each daphne process's event loop: match runners, the fan-out, the lobby feed.

- `process`: ProcessRuntime, the one per process: holder id, draining, the runner
  registry (leases, adoption from a checkpoint, the watchdog), routing a socket's
  operation to the runner (here or on another process, batching lossy inputs),
  and the fan-out, lobby, matchmaking and presence parts it wires
  (`get_runtime()`, `current()`, `reset_for_tests()`).
- `match/`: one live match: the runner and its parts (roster, state encoder, checkpoint
  policy, tick schedule), its typed operations, its ports and its store.
- `fanout`: how a runner reaches sockets (direct here, one PUBLISH per other process),
  the process's one pub/sub connection and its receive loop.
- `lobby_feed`: one coalesced lobby frame for this process's lobby sockets.
- `messages`: channel, group and topic names.
- `cleanup`: removals from Redis a closed socket left behind, bounded and retried.
- `drain`: SIGTERM under daphne: hand matches over, then stop the reactor.
- `metrics`: the process's Prometheus counters and registration gauges.

May import: `games.engine`, `games.protocol`, `games.payloads`, `games.cluster`,
`games.services` (its errors and result types anywhere; its calls only from
`match/store.py`, on the sync thread), `games.models` (only from `match/store.py`),
and `games.matchmaking` (only `process.py`, which wires the matcher).
Must not import: `games.sockets` (a runner sees a socket through the `Socket`
protocol of `fanout`), `games.views`, `games.admin`.
"""
