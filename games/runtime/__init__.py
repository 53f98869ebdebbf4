"""What runs on each daphne process's event loop: match runners, the fan-out, the lobby feed.

- `process`: ProcessRuntime, the one per process (`get_runtime()`, `current()`,
  `reset_for_tests()`): holder id, draining, the bot-thinking thread, the drain and
  the shutdown, and the parts below it wires: the runner registry, the routing, the
  fan-out, the lobby feed, the matchmaker, presence and cleanup.
- `runners`: RunnerRegistry, the matches this process runs: claims and leases,
  adoption from a checkpoint, the watchdog, release.
- `routing`: Router, a socket's operation to its match's runner (here, or on another
  process: lossy inputs batched over pub/sub, the rest queued and held while Redis
  is away), and listening on each runner's channel and topic.
- `match/`: one live match: the runner and its parts (roster, state encoder, checkpoint
  policy, tick schedule), its typed operations, its ports and its store.
- `fanout`: how a runner reaches sockets (direct here, one PUBLISH per other process),
  the process's one pub/sub connection and its receive loop.
- `lobby_feed`: one coalesced lobby frame for this process's lobby sockets.
- `messages`: channel, group and topic names.
- `cleanup`: removals from Redis a closed socket left behind, bounded and retried.
- `drain`: SIGTERM under daphne: hand matches over, then stop the reactor.
- `metrics`: the process's Prometheus counters and registration gauges.
- `census`: the process's record for the operators' live console, every heartbeat
  (sockets, runners and their tick rates, tick lateness p99, draining).

May import: `games.engine`, `games.protocol`, `games.payloads`, `games.cluster`,
`games.services` (its errors and result types anywhere; its calls only from
`match/store.py`, on the sync thread), `games.models` (only from `match/store.py`),
and `games.matchmaking` (only `process.py`, which wires the matcher). Only
`process.py` imports `runners` and `routing`, and neither imports it back.
Must not import: `games.sockets` (a runner sees a socket through the `Socket`
protocol of `fanout`), `games.views`, `games.admin`.
"""
