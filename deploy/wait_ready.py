"""Wait until a URL answers 200 (a daphne instance's /readyz); exit 1 after a timeout.

    python deploy/wait_ready.py http://127.0.0.1:8001/readyz 60

Used by the systemd units (ExecStartPost) and by `make cluster`.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(url):
            return True
        time.sleep(0.2)  # a port that starts to listen sends no event to wait on
    return False


if __name__ == "__main__":
    address, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    if not wait_ready(address, seconds):
        print(f"{address} did not answer 200 within {seconds:.0f} s", file=sys.stderr)
        sys.exit(1)
