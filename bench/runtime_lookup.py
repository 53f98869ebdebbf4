"""The per-frame cost of finding the process's runtime: `python -m bench.runtime_lookup`.

Every input a match socket reads is posted through `get_runtime()`, which also
makes sure the process's background tasks (the census heartbeat, the fan-out's
Redis connection) are running. Timed inside a running event loop with
`REDIS_URL` set (`--redis-url`), as in a daphne process of a cluster; prints
nanoseconds per call, the best of five runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CALLS = 200_000
RUNS = 5


async def _time_calls() -> float:
    from games.runtime.process import get_runtime

    runtime = get_runtime()
    await asyncio.sleep(0.2)  # the fan-out task has started and is connecting
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        for _ in range(CALLS):
            get_runtime()
        best = min(best, (time.perf_counter() - started) / CALLS)
    if runtime.fanout is not None:
        runtime.fanout.stop()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameproject.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["REDIS_PREFIX"] = f"arcade-bench-{secrets.token_hex(6)}"  # nothing shared
    import django

    django.setup()
    best = asyncio.run(_time_calls())
    print(f"get_runtime(): {best * 1e9:.0f} ns per call (best of {RUNS} x {CALLS:,})")


if __name__ == "__main__":
    main()
