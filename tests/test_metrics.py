"""The process's metrics as a scrape reads them: what the hot paths count, and what the
collector reads from the supervisor and the Redis outage at scrape time.

The end-to-end tests (tests/e2e/test_metrics.py) scrape a real daphne process."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest

from games.cluster import redis as cluster_redis
from games.runtime import metrics


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_tick_is_counted_in_both_histograms_of_its_game():
    before = sample("arcade_tick_duration_seconds_count", game="metrics_test")
    late = sample("arcade_tick_lateness_seconds_bucket", game="metrics_test", le="0.01")
    metrics.tick("metrics_test", lateness=0.004, duration=0.002)
    metrics.tick("metrics_test", lateness=-0.001, duration=0.2)  # early counts as on time
    assert sample("arcade_tick_duration_seconds_count", game="metrics_test") == before + 2
    assert sample("arcade_tick_lateness_seconds_bucket", game="metrics_test", le="0.01") == (
        late + 2
    )
    assert sample("arcade_tick_duration_seconds_bucket", game="metrics_test", le="0.1") >= 1


def test_closes_and_refused_frames_are_counted_by_kind_and_code():
    closes = sample("arcade_socket_closes_total", socket="match", code="4011")
    refused = sample("arcade_frames_refused_total", socket="lobby", code="rate_limited")
    metrics.socket_closed("match", 4011)
    metrics.frame_refused("lobby", "rate_limited")
    metrics.frame_refused("lobby", "rate_limited")
    assert sample("arcade_socket_closes_total", socket="match", code="4011") == closes + 1
    assert sample("arcade_frames_refused_total", socket="lobby", code="rate_limited") == (
        refused + 2
    )


def test_every_metric_has_help_text_and_the_arcade_prefix():
    text = generate_latest(REGISTRY).decode()
    ours = [line for line in text.splitlines() if line.startswith("# HELP arcade_")]
    assert len(ours) >= 30
    for line in ours:
        name, _, help_text = line.removeprefix("# HELP ").partition(" ")
        assert len(help_text) > 20, f"{name}: help text too thin"
    assert "# HELP process_resident_memory_bytes" in text  # the process's own, per instance


def test_an_outage_counts_once_and_its_failures_each():
    outage = cluster_redis.Outage()
    outage.failed("a test", OSError("refused"))
    outage.failed("a test", OSError("refused"))
    outage.recovered("the probe")
    outage.failed("a stale connection", OSError("reset"))  # probe up: not a new outage
    assert (outage.outages, outage.failures_total) == (1, 3)


def test_the_redis_gauge_follows_the_process_outage(monkeypatch):
    outage = cluster_redis.Outage()
    monkeypatch.setattr(cluster_redis, "outage", outage)
    assert sample("arcade_redis_up") == 1
    outage.failed("a test", OSError("refused"))
    assert sample("arcade_redis_up") == 0
    assert sample("arcade_redis_outages_total") == 1
    assert sample("arcade_redis_errors_total") == 1
    outage.recovered("the probe")
    assert sample("arcade_redis_up") == 1


@pytest.fixture
async def supervisor(settings):
    """This process's supervisor, single-process (no Redis), forgotten afterwards."""
    from games.runtime.process import get_runtime, reset_for_tests

    settings.REDIS_URL = ""
    reset_for_tests()
    current = get_runtime()
    yield current
    await current.shutdown()
    reset_for_tests()


async def test_the_drain_flag_and_runners_are_read_from_the_supervisor(supervisor):
    assert sample("arcade_draining") == 0
    supervisor.draining = True
    assert sample("arcade_draining") == 1
    assert sample("arcade_match_runners") == 0
    assert sample("arcade_sockets_open", socket="lobby", subprotocol="json") == 0


def test_without_a_supervisor_the_process_reports_zeros():
    from games.runtime.process import reset_for_tests

    reset_for_tests()
    assert sample("arcade_match_runners") == 0
    assert sample("arcade_draining") == 0
    assert sample("arcade_presence_sockets") == 0
