"""How log lines look: plain text by default, or one JSON object per line (LOG_FORMAT=json).

A JSON line has `time` (UTC, ISO 8601), `level`, `logger`, `message` and `process`
(host:pid), then the context of the event as keys of its own: `match_id`,
`player_id`, `seat`, `channel` and `close_code`. Code may pass them with
`extra={"match_id": ...}` (any other `extra` key is kept too); lines that name them
only in their words ("match 1f0c...: lease renewed again", "closed with 4013") get
them read back from the message, so every existing runtime line carries its match.
A traceback is the `exc_info` key of the same line: one line per event, always.

Also here: the filter that keeps the health checks out of the development
server's access log (a balancer polls them every second).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# The keys a line's context is given under, and how to find each in a message's words.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CONTEXT_PATTERNS: dict[str, re.Pattern[str]] = {
    "match_id": re.compile(rf"(?:\bmatch |/ws/match/)({_UUID})"),
    "player_id": re.compile(r"\bplayer (\d+)\b"),
    "seat": re.compile(r"\bseat (\d+)\b"),
    "channel": re.compile(r"\b(specific\.[^\s,;:()]+)"),
    "close_code": re.compile(r"(?:\bclosed with |\bclose code |\()([14]\d{3})\b"),
}
_NUMBERS = {"player_id", "seat", "close_code"}


class JsonFormatter(_JsonFormatter):
    """One JSON object per line, with the event's context as keys (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("static_fields", {"process": f"{socket.gethostname()}:{os.getpid()}"})
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = _utc(record.created)
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)  # uvicorn's copy of the message, in colours
        message = record.getMessage()
        for key, pattern in CONTEXT_PATTERNS.items():
            if key in log_data:
                continue  # passed explicitly: it wins over the words
            found = pattern.search(message)
            if found:
                log_data[key] = int(found[1]) if key in _NUMBERS else found[1]


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


# Paths a load balancer polls every second (gameproject/health.py).
HEALTH_PATHS = ("/healthz", "/readyz")


class SkipHealthChecks(logging.Filter):
    """Drops access-log lines of the health checks (daphne's runserver logs each request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args.get("path") if isinstance(args, dict) else None
        return not isinstance(path, str) or path.partition("?")[0] not in HEALTH_PATHS
