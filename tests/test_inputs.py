"""Hostile inputs over a real match socket (the ASGI stack, Redis, runners in this
process): refused naming the field, counted as strikes, never slowing or ending
the match; and a game that keeps failing ends in words, once."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from games.cluster import checkpoints
from games.engine import GAMES, get_game
from games.models import Match, Participant
from games.protocol import CloseCode
from games.runtime.match.runner import BROKEN_REASON
from games.sockets.base import MAX_STRIKES
from tests.runtime import Socket
from tests.secret_game import BrokenGame
from tests.test_match_socket import start

pytestmark = pytest.mark.django_db(transaction=True)

db = sync_to_async

# Arena inputs (JSON text, SEQ standing for its sequence number) and the field each is refused for.
HOSTILE = [
    ('{"seq": SEQ, "mx": 1' + "0" * 400 + "}", "mx"),  # 10**400: was an OverflowError
    ('{"seq": SEQ, "mx": 1e400}', "mx"),
    ('{"seq": SEQ, "mx": 0, "x": ' + str(2**70) + "}", "x"),  # broke the checkpoint
    ('{"seq": SEQ, "pad": "' + "x" * 3900 + '"}', "pad"),  # bloated log and replay
    ('{"seq": SEQ, "fire": "yes"}', "fire"),
    ('{"seq": -SEQ}', "seq"),
    ("[SEQ]", "data"),
]


async def arena(match_factory, alice, bob, **settings):
    match = await db(match_factory)("arena", players=[alice, bob], settings=settings)
    a, b = await start(match, alice, bob)
    return match, a, b


async def send_input(sock: Socket, data: str) -> None:
    await sock.send_raw('{"type": "input", "data": ' + data + "}")


async def states_in(sock: Socket, seconds: float) -> list[int]:
    """The ticks of the states `sock` receives in the next `seconds` (after its backlog)."""
    while not sock.ws.output_queue.empty():
        await sock.frame()
    loop = asyncio.get_running_loop()
    end, ticks = loop.time() + seconds, []
    while loop.time() < end:
        ticks.append((await sock.until("state"))["tick"])
    return ticks


@pytest.mark.usefixtures("runners")
async def test_hostile_inputs_get_invalid_naming_the_field_and_the_match_runs_on(
    match_factory, alice, bob
):
    match, a, b = await arena(match_factory, alice, bob)
    for seq, (data, field) in enumerate(HOSTILE, start=1):
        await send_input(a, data.replace("SEQ", str(seq)))
        error = await a.until("error")
        assert error["code"] == "invalid", error
        assert f"`{field}`" in error["message"], error
    # Honest inputs still count, and the match keeps its full rate (20 ticks a second).
    await send_input(a, '{"seq": 10, "mx": 1, "fire": true}')
    await b.state_where(lambda s: s["ships"][0]["ack"] == 10)
    ticks = await states_in(b, 2.0)
    assert len(ticks) >= 36 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    # The checkpoint holds only what was applied, and restores.
    game = get_game("arena")
    payload, log = await checkpoints.load(str(match.pk))
    assert [entry[2] for entry in log] == [{"seq": 10, "mx": 1.0, "fire": True}]
    restored = game.restore(payload["state"])
    assert game.checkpoint(restored) == payload["state"]
    await a.close()
    await b.close()


@pytest.mark.usefixtures("runners")
async def test_invalid_inputs_count_as_strikes(match_factory, alice, bob):
    _, a, b = await arena(match_factory, alice, bob)
    for seq in range(MAX_STRIKES):
        await send_input(a, json.dumps({"seq": seq + 1, "mx": 5}))
        assert (await a.until("error"))["code"] == "invalid"
    await send_input(a, '{"seq": 99, "mx": 5}')
    assert await a.closed() == CloseCode.ABUSE
    assert (await b.until("state"))["state"]["finished"] is False  # the match goes on
    await b.close()


@pytest.mark.usefixtures("runners")
async def test_a_frame_nested_a_thousand_deep_is_malformed_not_a_crash(match_factory, alice, bob):
    _, a, b = await arena(match_factory, alice, bob)
    deep = "[" * 1000 + "]" * 1000
    for frame in (
        '{"type": "input", "data": {"mx": ' + deep + "}}",
        '{"x": ' + deep + ', "type": "ping", "id": 1}',
        deep,
    ):
        await a.send_raw(frame)
        assert (await a.until("error"))["code"] == "malformed"
    await a.send(type="ping", id=5)
    assert (await a.until("pong"))["id"] == 5  # the same socket, still served
    await a.close()
    await b.close()


@pytest.mark.slow
@pytest.mark.usefixtures("memory_runners")
async def test_a_losing_player_cannot_dodge_the_rating_loss_with_a_crashing_input(
    match_factory, alice, bob
):
    """Single-process mode: a runner that died used to abort the match, unrated."""
    match, a, b = await arena(match_factory, alice, bob, time_limit_seconds=5)
    # Bob (seat 1, facing Alice across the field) fires at her for the whole match.
    await send_input(b, '{"seq": 1, "aim": 3.14159, "fire": true}')
    for seq, (data, _) in enumerate(HOSTILE * 2, start=1):
        await send_input(a, data.replace("SEQ", str(seq)))
        assert (await a.until("error"))["code"] == "invalid"
    result = await a.until("result", timeout=10)
    assert result["rated"] is True
    stored = await db(Match.objects.get)(pk=match.pk)
    assert stored.status == "finished"
    loser = await db(Participant.objects.get)(match=match, seat=0)
    assert loser.outcome == "loss"
    await a.close()
    await b.close()


@pytest.fixture
def broken_game(monkeypatch):
    """The secret game with faults on demand (see BrokenGame), registered for the test."""
    monkeypatch.setitem(GAMES, "broken", BrokenGame())


@pytest.mark.usefixtures("runners", "broken_game")
async def test_a_game_whose_tick_keeps_failing_is_aborted_and_players_are_told(
    match_factory, alice, bob
):
    from games.runtime.process import get_runtime

    match = await db(match_factory)("broken", players=[alice, bob], settings={"ticks": 10_000})
    a, b = await start(match, alice, bob)
    await send_input(a, json.dumps({"guess": 9100}))  # the next 100 ticks raise
    for sock in (a, b):
        aborted = await sock.until("aborted")
        assert BROKEN_REASON in aborted["summary"]
    stored = await db(Match.objects.get)(pk=match.pk)
    assert stored.status == "aborted" and BROKEN_REASON in stored.result["summary"]
    assert await checkpoints.load(str(match.pk)) is None  # nothing left to adopt
    # No crash loop: once its runner stopped, the match is not run again while its
    # sockets stay (the watchdog looks for runnerless matches every second).
    runners = get_runtime().runners
    loop = asyncio.get_running_loop()
    gone_by = loop.time() + 5.0
    while str(match.pk) in runners:
        assert loop.time() < gone_by, "the aborted match's runner did not stop"
        await asyncio.sleep(0.05)  # polling for the runner's end
    watched_until = loop.time() + 2.5
    while loop.time() < watched_until:
        assert str(match.pk) not in runners
        await asyncio.sleep(0.1)  # sampling: nothing should happen here
    await a.close()
    await b.close()
