"""The process records behind the live console: the census's p99 of tick lateness from
the metrics' histogram, and the records' store in Redis and in memory, with its TTL."""

from __future__ import annotations

import asyncio
import time

import pytest

from games.cluster import processes
from games.runtime import census, metrics

INF = float("inf")


def record(holder: str = "host:1:abc", *, at: float | None = None) -> processes.ProcessRecord:
    runner = processes.RunnerRecord("5b0c", "arena", "active", 120, 20, 19.8)
    return processes.ProcessRecord(
        holder=holder,
        host="host",
        pid=1,
        started_at=time.time() - 60,
        at=time.time() if at is None else at,
        match_sockets=3,
        lobby_sockets=1,
        runners=[runner],
        lateness_p99_ms=1.25,
        draining=False,
    )


# --- The p99 of tick lateness ---------------------------------------------------------------


def test_the_quantile_interpolates_within_its_bucket_as_prometheus_does():
    # 100 observations: 90 under 1 ms, 9 between 1 and 2.5 ms, 1 between 2.5 and 5 ms.
    buckets = {0.001: 90, 0.0025: 99, 0.005: 100, INF: 100}
    assert census.quantile(0.99, buckets) == pytest.approx(0.0025)
    assert census.quantile(0.5, buckets) == pytest.approx(0.001 * 50 / 90)
    assert census.quantile(0.995, buckets) == pytest.approx(0.0025 + 0.0025 * 0.5)


def test_the_quantile_of_nothing_is_none_and_past_the_last_bound_is_that_bound():
    assert census.quantile(0.99, {0.001: 0, INF: 0}) is None
    assert census.quantile(0.99, {}) is None
    assert census.quantile(0.99, {0.001: 0, 1.0: 10, INF: 100}) == 1.0


class FakeRuntime:
    holder = "host:1:test"
    draining = False

    class local:  # shaped like the runtime's parts
        by_channel = {"a": 1, "b": 2}

    class lobby:
        sockets = {3}

    runners: dict[str, object] = {}


def test_the_census_reports_the_lateness_of_the_ticks_since_the_last_heartbeat():
    counting = census.Census(FakeRuntime())
    assert counting.record().lateness_p99_ms is None  # no tick since
    for _ in range(99):
        metrics.tick("census-test", 0.0005, 0.001)
    metrics.tick("census-test", 0.2, 0.001)  # one tick 200 ms late in a hundred
    first = counting.record()
    assert first.lateness_p99_ms is not None and 0.5 <= first.lateness_p99_ms <= 1.0
    assert (first.match_sockets, first.lobby_sockets, first.runners) == (2, 1, [])
    for _ in range(10):
        metrics.tick("census-test", 0.3, 0.001)
    # Only the ten since: all late, between the 250 ms and 500 ms bounds.
    assert 250 <= counting.record().lateness_p99_ms <= 500


# --- The records' store -----------------------------------------------------------------------


def test_the_local_store_keeps_this_processs_record_until_its_ttl(settings):
    settings.REDIS_URL = ""
    local = processes.LocalProcesses()
    fresh, old = record("host:1:fresh"), record("host:2:old", at=time.time() - 60)
    for item in (fresh, old):
        local.records[item.holder] = item
    assert local.current() == [fresh]


@pytest.mark.django_db
async def test_the_redis_store_shares_records_and_drops_them_after_their_ttl(
    redis_layer, monkeypatch
):
    store = processes.RedisProcesses()
    first, second = record("host:1:first"), record("host:2:second")
    await store.publish(first)
    await store.publish(second)
    assert store.current() == [first, second]
    # Records not written again expire (a process that died): gone without anyone's cleanup.
    monkeypatch.setattr(processes, "RECORD_TTL_SECONDS", 0.3)
    await store.publish(first)
    await store.publish(second)
    assert len(store.current()) == 2
    deadline = time.monotonic() + 2
    while store.current() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert store.current() == []
