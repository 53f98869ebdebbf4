"""Log lines: one per event (no 4xx warning printed twice under DEBUG), JSON on request
(LOG_FORMAT=json) with the event's context as keys, and no health checks in the
development server's access log."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from gameproject.logs import JsonFormatter
from tests.e2e.http_client import SiteClient
from tests.e2e.servers import SERVERS, prepare, production_env, serve

TIMEOUT = 10


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "games.runtime.process", logging.WARNING, __file__, 1, message, args, None
    )
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_the_time_level_logger_message_and_process():
    line = json.loads(JsonFormatter().format(record("drained %d matches", 3)))
    assert line["message"] == "drained 3 matches"
    assert (line["level"], line["logger"]) == ("WARNING", "games.runtime.process")
    assert line["time"].endswith("Z") and line["time"][:4].isdigit()
    assert line["process"].endswith(f":{os.getpid()}")


def test_the_context_named_in_a_message_becomes_keys():
    match_id = str(uuid.uuid4())
    slow = record(
        "closing a slow reader (%s): %d bytes unsent in match %s for player %s",
        4011, 300000, match_id, 17,
    )  # fmt: skip
    line = json.loads(JsonFormatter().format(slow))
    assert line["match_id"] == match_id
    assert line["player_id"] == 17
    assert line["close_code"] == 4011
    closed = record(
        "%s %s closed with %d: %s", "MatchConsumer", "specific.abc!def", 4013, "OperationalError"
    )
    line = json.loads(JsonFormatter().format(closed))
    assert (line["channel"], line["close_code"]) == ("specific.abc!def", 4013)
    seat = record("match %s: seat %d's input %.200r raised", match_id, 1, {"column": 9})
    assert json.loads(JsonFormatter().format(seat))["seat"] == 1


def test_context_passed_explicitly_wins_over_the_words():
    explicit = record("match %s: over", str(uuid.uuid4()), match_id="given", event="finished")
    line = json.loads(JsonFormatter().format(explicit))
    assert (line["match_id"], line["event"]) == ("given", "finished")


def test_a_traceback_stays_on_the_line_of_its_event():
    try:
        raise ValueError("broken game")
    except ValueError:
        failed = record("match %s: the game's tick raised", str(uuid.uuid4()))
        failed.exc_info = sys.exc_info()
    text = JsonFormatter().format(failed)
    assert "\n" not in text
    assert "ValueError: broken game" in json.loads(text)["exc_info"]


def test_the_development_server_logs_requests_but_not_health_checks(caplog):
    access = logging.getLogger("django.channels.server")
    details = {"method": "GET", "status": 200, "client": "127.0.0.1:1", "time_taken": 0.0}
    with caplog.at_level(logging.INFO, logger="django.channels.server"):
        for path in ("/healthz", "/readyz", "/readyz?full", "/lobby/"):
            access.info("HTTP %(method)s %(path)s %(status)s", {**details, "path": path})
    assert [r.getMessage() for r in caplog.records] == ["HTTP GET /lobby/ 200"]


# --- A real daphne's log ------------------------------------------------------------------


@pytest.fixture(scope="module", params=SERVERS)
def debug_server(request, tmp_path_factory):
    """The server under DEBUG with JSON logs, its access log off as in deploy/."""
    tmp = tmp_path_factory.mktemp("logging")
    env = production_env(
        tmp, DEBUG="true", LOG_FORMAT="json", SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )  # fmt: skip
    prepare(env)
    quiet = ["--verbosity", "0"] if request.param == "daphne" else []  # uvicorn: always off
    with serve(env, *quiet, server=request.param) as port:
        yield f"http://127.0.0.1:{port}", tmp / f"{request.param}-{port}.log"


def lines_naming(log: Path, text: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if text in line]


def wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not lines_naming(log, text):
        assert time.monotonic() < deadline, f"no line naming {text} in {log.read_text()}"
        time.sleep(0.05)  # polling a file another process writes


def not_found(base: str, path: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + path, timeout=TIMEOUT)
    assert refused.value.code == 404


def test_a_4xx_api_error_is_one_json_line_under_debug(debug_server):
    base, log = debug_server
    missing = f"/api/matches/{uuid.uuid4()}/"
    not_found(base, missing)
    client = SiteClient(base)
    client.play_as_guest()
    with pytest.raises(urllib.error.HTTPError) as bad:
        client.post_json("/api/matches/", {"game": "no-such-game"})
    assert bad.value.code == 400
    # A later request's line is written after every line of the earlier ones.
    marker = f"/marker-{uuid.uuid4()}/"
    not_found(base, marker)
    wait_for_line(log, marker)

    [missing_line] = lines_naming(log, missing)
    [bad_line] = lines_naming(log, "Bad Request: /api/matches/")
    for line in (missing_line, bad_line):
        entry = json.loads(line)
        assert (entry["level"], entry["logger"]) == ("WARNING", "django.request")
    # The whole log is JSON, one object per line: nothing printed by another handler.
    for line in log.read_text().splitlines():
        assert isinstance(json.loads(line), dict), line


def test_health_checks_add_no_line_to_the_log(debug_server):
    base, log = debug_server
    for path in ("/healthz", "/readyz"):
        urllib.request.urlopen(base + path, timeout=TIMEOUT).read()
    marker = f"/marker-{uuid.uuid4()}/"
    not_found(base, marker)
    wait_for_line(log, marker)
    assert lines_naming(log, "healthz") == lines_naming(log, "readyz") == []
