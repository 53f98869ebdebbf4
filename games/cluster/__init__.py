"""State every process shares: in Redis when REDIS_URL is set, otherwise in this process's memory.

- `redis`: the Redis clients (one per event loop, one sync), key names and the outage log.
- `leases`: at most one process runs a match, with a fencing token per run.
- `checkpoints`: fenced snapshots of live matches, so another process can adopt one.
- `presence`: who is online, and connected to which match, across every process.
- `tickets`: single-use tickets that let non-browser clients open a match socket.

May import: Django settings, redis, msgspec and other `games.cluster` modules.
Must not import: `games.models`, `games.services`, `games.runtime`, `games.sockets` —
this layer holds shared state and knows nothing of matches' rules or sockets.
"""
