"""The runner's input buffer at work: one input per seat per tick, drained, stated, clamped."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from prometheus_client import REGISTRY

from games.engine.replay import replay
from games.runtime.match.inputs import DRAIN_AFTER_TICKS
from games.runtime.match.runner import MatchRunner
from tests.runtime.fakes import SEATS, send_input, started

ANN, BEN = SEATS


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def last_ship(runner: MatchRunner, seat: int) -> dict[str, Any]:
    """Seat `seat`'s ship in the newest state sent (JSON)."""
    _, fields = runner.transport.states()[-1]  # type: ignore[attr-defined]
    return json.loads(fields["text"])["state"]["ships"][seat]


def merged_count() -> float:
    return REGISTRY.get_sample_value("arcade_inputs_merged_total", {"game": "arena"}) or 0.0


def test_inputs_that_arrive_bunched_are_applied_one_per_tick_and_the_state_says_so():
    async def scenario() -> list[tuple[int, bool, float]]:
        runner = await started("arena")
        for seq in (1, 2, 3):  # one tick's worth of network jitter: three at once
            send_input(runner, ANN, {"seq": seq, "mx": 1})
        seen = []
        for _ in range(4):
            await runner.step()
            ship = last_ship(runner, 0)
            seen.append((ship["ack"], ship["repeated"], ship["x"]))
        return seen

    seen = run(scenario())
    assert [(ack, repeated) for ack, repeated, _ in seen] == [
        (1, False),
        (2, False),
        (3, False),
        (3, True),  # nothing new: the last controls again, and the state says so
    ]
    xs = [x for _, _, x in seen]
    assert all(round(b - a, 1) == 11.0 for a, b in itertools.pairwise(xs))  # every tick


def test_a_persistent_backlog_is_drained_so_inputs_wait_about_a_tick_again():
    async def scenario() -> tuple[MatchRunner, list[int]]:
        runner = await started("arena")
        seq = 0
        for _ in range(6):  # a stalled socket delivers six inputs at once...
            seq += 1
            send_input(runner, ANN, {"seq": seq, "mx": 0.5})
        waits = []
        for _ in range(DRAIN_AFTER_TICKS + 20):  # ...then one per tick, as the client sends
            seq += 1
            send_input(runner, ANN, {"seq": seq, "mx": 0.5})
            await runner.step()
            waits.append(seq - last_ship(runner, 0)["ack"])
        return runner, waits

    before = merged_count()
    runner, waits = run(scenario())
    assert waits[0] == 6
    assert waits[-5:] == [1] * 5  # one input in reserve, no more: latency does not grow
    assert merged_count() - before == 5
    merged = [entry[2] for entry in runner.log if entry[1] == 0 and entry[2].get("mx") == 1.0]
    assert len(merged) == 5  # two halves of movement applied as one whole tick
    tick = runner.game.current_tick(runner.state)
    info = runner.info
    again = replay(runner.game, info.settings, 2, info.seed, runner.log, until_tick=tick)
    assert runner.game.checkpoint(again) == runner.game.checkpoint(runner.state)


def test_a_turn_based_game_keeps_the_newest_input_of_a_tick():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four")
        send_input(runner, ANN, {"column": 2})
        send_input(runner, ANN, {"column": 5})
        await runner.step()
        await runner.step()
        return runner

    runner = run(scenario())
    assert [entry[2] for entry in runner.log] == [{"column": 5}]


def test_a_claimed_lag_is_clamped_to_the_setting_before_it_is_applied_and_logged(settings):
    settings.LAG_COMPENSATION_MS = 100

    async def scenario() -> MatchRunner:
        runner = await started("arena")
        send_input(runner, ANN, {"seq": 1, "fire": True, "lag": 5000})  # "five seconds"
        send_input(runner, BEN, {"seq": 1, "fire": True, "lag": 60})
        await runner.step()
        return runner

    runner = run(scenario())
    assert [entry[2]["lag"] for entry in runner.log] == [100, 60]
    assert [s.controls.rewind for s in runner.state.ships] == [2, 1]  # ticks at 20 Hz
