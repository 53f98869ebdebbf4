"""The lobby tells the truth: a match that started is never listed as open, whatever the order
in which the start, its announcement, the lobby's reads and the lobby's sockets meet.

Each test forces one interleaving: a slow read is a read whose result is held back
(`SnapshotGate`) until the test has committed and announced a start; the periodic
refresh is pushed out of the way (`no_ticks`), since it would only hide a lost
change for a while, and the lobby must be right without it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from games import services
from games.runtime import lobby_feed
from games.runtime.process import get_runtime
from tests.test_lobby_socket import lobby_socket, open_ids

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runners")]

TIMEOUT = 5.0


class SnapshotGate:
    """Holds back the result of the lobby's next reads of the database, one by one, at will."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.holds: list[tuple[asyncio.Event, asyncio.Event]] = []

    def hold_next_read(self) -> tuple[asyncio.Event, asyncio.Event]:
        """(read, release): `read` is set once the next read has its rows.

        That read returns them on `release`.
        """
        hold = (asyncio.Event(), asyncio.Event())
        self.holds.append(hold)
        return hold

    def __call__(self, function: Any) -> Any:
        call = self.real(function)
        if function is not lobby_feed.lobby_games:
            return call  # the online count

        async def gated() -> Any:
            hold = self.holds.pop(0) if self.holds else None
            rows = await call()
            if hold is not None:
                read, release = hold
                read.set()
                await release.wait()
            return rows

        return gated


@pytest.fixture
def no_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lobby_feed, "REFRESH_SECONDS", 600.0)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch, no_ticks: None) -> SnapshotGate:
    snapshot_gate = SnapshotGate(lobby_feed.database_sync_to_async)
    monkeypatch.setattr(lobby_feed, "database_sync_to_async", snapshot_gate)
    return snapshot_gate


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set each time this process's lobby hears "the lobby changed" (clear it to wait again)."""
    event = asyncio.Event()
    hub = get_runtime().lobby
    real = hub.changed

    def changed() -> None:
        real()
        event.set()

    monkeypatch.setattr(hub, "changed", changed)
    return event


async def frame(lobby: Any) -> dict[str, Any]:
    return json.loads(await lobby.receive_from(TIMEOUT))


async def frame_where(lobby: Any, test: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"no lobby frame as expected within {timeout} s")
        pushed = json.loads(await lobby.receive_from(left))
        if test(pushed):
            return pushed


def waiting_arena(match_factory: Any) -> Any:
    """An arena match with two of its three seats taken: open, and able to start."""
    return match_factory("arena", seats=2, max_players=3)


async def test_a_newcomer_is_not_shown_a_match_that_started_while_the_lobby_was_empty(
    match_factory, no_ticks
):
    # The report: a running, full match listed as open to a player who arrived later.
    # Its players left the lobby for the match page; the start was announced to a lobby
    # group this process no longer belonged to, so the snapshot it kept was never redone.
    match = await sync_to_async(waiting_arena)(match_factory)
    first = await lobby_socket()
    assert open_ids(await frame(first), "arena") == [str(match.pk)]
    await first.disconnect()
    await sync_to_async(services.start_match)(match.pk)
    newcomer = await lobby_socket()
    assert open_ids(await frame(newcomer), "arena") == []


async def test_a_start_announced_while_the_lobby_reads_is_shown_after_that_read(
    match_factory, player_factory, gate, heard
):
    # A refresh reads the open matches; the start commits and is announced before that
    # refresh has sent its (now old) frame. The announcement must lead to another read.
    match = await sync_to_async(waiting_arena)(match_factory)
    lobby = await lobby_socket()
    assert open_ids(await frame(lobby), "arena") == [str(match.pk)]
    read, release = gate.hold_next_read()
    other = await sync_to_async(services.create_match)(
        await sync_to_async(player_factory)(), "connect_four"
    )
    await asyncio.wait_for(read.wait(), TIMEOUT)  # the refresh for that change read the rows
    heard.clear()
    await sync_to_async(services.start_match)(match.pk)
    await asyncio.wait_for(heard.wait(), TIMEOUT)  # this process heard of the start
    release.set()
    shown = await frame_where(lobby, lambda f: open_ids(f, "arena") == [])
    assert open_ids(shown, "connect_four") == [str(other.pk)]


async def test_an_older_read_finishing_last_does_not_replace_a_newer_frame(
    match_factory, gate, heard
):
    # Two refreshes at once (the periodic one and the one for a change): the one that read
    # first must not be the one whose frame stays.
    match = await sync_to_async(waiting_arena)(match_factory)
    lobby = await lobby_socket()
    assert open_ids(await frame(lobby), "arena") == [str(match.pk)]
    hub = get_runtime().lobby
    read, release = gate.hold_next_read()
    older = asyncio.ensure_future(hub.refresh())  # say, the periodic refresh, slow
    await asyncio.wait_for(read.wait(), TIMEOUT)
    heard.clear()
    await sync_to_async(services.start_match)(match.pk)
    await asyncio.wait_for(heard.wait(), TIMEOUT)
    # The change's refresh reads within milliseconds after the coalescing window: give it
    # that long to overtake the older read (which is what went wrong), then let the older
    # one finish.
    await asyncio.sleep(lobby_feed.COALESCE_SECONDS + 0.7)
    release.set()
    await asyncio.wait_for(older, TIMEOUT)
    await frame_where(lobby, lambda f: open_ids(f, "arena") == [])
    newcomer = await lobby_socket()  # served the frame the lobby kept
    assert open_ids(await frame(newcomer), "arena") == []


# --- Live matches: what a spectator finds in the lobby -------------------------------


def live_ids(frame: dict[str, Any], game: str) -> list[str]:
    return [m["id"] for g in frame["games"] if g["key"] == game for m in g["live"]]


async def test_a_match_moves_from_open_to_live_when_it_starts_and_leaves_when_it_ends(
    match_factory, no_ticks
):
    match = await sync_to_async(waiting_arena)(match_factory)
    lobby = await lobby_socket()
    first = await frame(lobby)
    assert (open_ids(first, "arena"), live_ids(first, "arena")) == ([str(match.pk)], [])
    await sync_to_async(services.start_match)(match.pk)
    started = await frame_where(lobby, lambda f: live_ids(f, "arena") == [str(match.pk)])
    assert open_ids(started, "arena") == []
    (shown,) = [m for g in started["games"] for m in g["live"]]
    assert shown["status"] == "active" and shown["started_at"]
    assert len(shown["participants"]) == 2
    await sync_to_async(services.finish_match)(
        match.pk,
        [services.SeatRecord(0, "win", 1, 1), services.SeatRecord(1, "loss", 0, 2)],
        "Seat 1 wins.",
    )
    await frame_where(lobby, lambda f: live_ids(f, "arena") == [])


@pytest.mark.django_db
def test_the_lobby_lists_only_what_a_visitor_can_join_or_watch(client, match_factory):
    free = match_factory("arena", seats=2, max_players=3)
    match_factory("arena", seats=2, max_players=2)  # full: about to start, nobody can join
    live = match_factory("connect_four", status="active")
    match_factory("connect_four", status="active", is_private=True)
    match_factory("connect_four", status="finished")
    games = {g["key"]: g for g in client.get("/api/lobby/").json()["games"]}
    assert [m["id"] for m in games["arena"]["open"]] == [str(free.pk)]
    assert [m["id"] for m in games["connect_four"]["live"]] == [str(live.pk)]
    assert games["arena"]["live"] == games["connect_four"]["open"] == []


@pytest.mark.django_db
def test_the_lobby_page_offers_to_join_only_matches_with_a_free_seat(client, match_factory):
    free = match_factory("arena", seats=2, max_players=3)
    full = match_factory("arena", seats=2, max_players=2)
    page = client.get("/").content.decode()
    assert f"/play/{free.pk}/" in page and "Join 2/3" in page
    assert f"/play/{full.pk}/" not in page
