"""The runner applies one input per seat per tick, in the order the client sent them."""

import json

import pytest

from games.engine import get_game
from games.runner import INPUT_BUFFER, MatchRunner
from games.storage import MatchInfo, SeatRow


class Recorder:
    """A transport that keeps the states a runner sends."""

    def __init__(self):
        self.states = []

    async def deliver(self, channels, kind, **fields):
        if kind == "match.state":
            self.states.append(json.loads(fields["text"]))

    async def broadcast_end(self, text):
        pass

    async def request_rejoin(self):
        pass


def arena_runner():
    seats = [SeatRow(0, 10, "Ann"), SeatRow(1, 11, "Bo")]
    settings = get_game("arena").settings({"time_limit_seconds": 60})
    info = MatchInfo("m1", "arena", "waiting", settings, 7, 2, seats)
    transport = Recorder()
    runner = MatchRunner(info, transport, store=None, checkpoints=None)
    for seat in seats:
        runner.post({"op": "join", "player_id": seat.player_id, "channel": f"c{seat.seat}"})
    runner._begin(seats)  # started, as after every player said ready
    return runner, transport


def post_inputs(runner, seqs):
    for seq in seqs:
        data = {"seq": seq, "mx": 1, "my": 0, "aim": 0, "fire": False}
        runner.post({"op": "input", "player_id": 10, "channel": "c0", "data": data})


def acks(transport):
    return [state["state"]["ships"][0]["ack"] for state in transport.states]


async def test_inputs_that_arrive_together_move_the_ship_on_successive_ticks():
    runner, transport = arena_runner()
    post_inputs(runner, [1, 2])  # bunched by the network: both before one tick
    for _ in range(3):
        await runner._step()
    # One input per tick, so the ship moved once per input, as the client predicted.
    assert acks(transport) == [1, 2, 2]
    xs = [state["state"]["ships"][0]["x"] for state in transport.states]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])  # its controls persist after the last
    assert xs[1] > xs[0]


async def test_a_long_burst_keeps_only_the_newest_inputs():
    runner, transport = arena_runner()
    post_inputs(runner, range(1, 6))
    for _ in range(INPUT_BUFFER + 1):
        await runner._step()
    assert acks(transport) == [3, 4, 5, 5]
