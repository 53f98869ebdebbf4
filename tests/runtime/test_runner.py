"""The match authority on its own: a MatchRunner with a fake store, transport and clock,
driven tick by tick, in milliseconds, with no Redis, database or socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from games import protocol
from games.engine.replay import replay
from games.runtime.match import ops
from games.runtime.match.runner import EVERYONE_LEFT_REASON, WAITING_SEAT_SECONDS, MatchRunner
from tests.runtime.fakes import (
    SEATS,
    Checkpoints,
    Clock,
    channel,
    join,
    leave,
    new_runner,
    ready,
    send_input,
    started,
)

ANN, BEN = SEATS
SPECTATOR = 999


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def steps(runner: MatchRunner, count: int, seconds: float = 0.0) -> None:
    """`count` ticks, the clock moving `seconds` before each."""
    for _ in range(count):
        runner.clock.advance(seconds)  # type: ignore[attr-defined]
        await runner.step()


def error_codes(runner: MatchRunner, socket: str) -> list[str]:
    return [e["code"] for e in runner.transport.errors(socket)]  # type: ignore[attr-defined]


def ship(runner: MatchRunner, seat: int) -> Any:
    return runner.state.ships[seat]


# --- The validation order: seat, then active, then the seat in play, then the rules -----


def test_a_spectators_input_is_refused_as_a_spectators_before_anything_else():
    async def scenario() -> MatchRunner:
        runner = new_runner("connect_four")
        runner.post(ops.Join(SPECTATOR, "watcher", None, "Eve"))
        runner.post(ops.Input(SPECTATOR, "watcher", {"column": 99}))  # waiting, and invalid
        await runner.step()
        return runner

    runner = run(scenario())
    assert error_codes(runner, "watcher") == [protocol.ErrorCode.SPECTATOR]


def test_a_seated_players_input_before_the_start_is_refused_as_not_active():
    async def scenario() -> MatchRunner:
        runner = new_runner("connect_four")
        join(runner, ANN)
        send_input(runner, ANN, {"column": 99})  # invalid too: the status is checked first
        await runner.step()
        return runner

    runner = run(scenario())
    assert error_codes(runner, channel(0)) == [protocol.ErrorCode.NOT_ACTIVE]
    assert runner.transport.errors()[0]["message"] == "The match has not started yet."


def test_an_abandoned_seats_input_is_refused_before_the_rules_see_it():
    async def scenario() -> MatchRunner:
        runner = await started("arena", {"score_limit": 1}, seats=[*SEATS, _third()])
        leave(runner, ANN)
        await steps(runner, 1)
        runner.clock.advance(runner.grace)
        await steps(runner, 1)  # Ann's seat is abandoned; two ships are left
        assert runner.seats[ANN.player_id].abandoned and runner.status == "active"
        join(runner, ANN)  # she comes back, as a spectator of her own seat
        send_input(runner, ANN, {"seq": 999, "mx": 1})
        await steps(runner, 1)
        return runner

    runner = run(scenario())
    errors = runner.transport.errors(channel(0))
    assert [e["code"] for e in errors] == [protocol.ErrorCode.NOT_ACTIVE]
    assert errors[0]["message"] == "You left this match."
    assert ship(runner, 0).last_seq != 999 and ship(runner, 0).controls.move_x == 0


def _third() -> Any:
    from games.runtime.match.ports import SeatRow

    return SeatRow(2, 103, "Cy")


def test_an_input_that_does_not_fit_the_schema_is_invalid_before_the_rules():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four")
        send_input(runner, BEN, {"column": 99})  # out of turn, and out of range
        await runner.step()
        return runner

    runner = run(scenario())
    assert error_codes(runner, channel(1)) == [protocol.ErrorCode.INVALID]


def test_the_rules_refuse_a_move_out_of_turn_and_a_stale_input():
    async def scenario() -> tuple[MatchRunner, MatchRunner]:
        four = await started("connect_four")
        send_input(four, BEN, {"column": 3})  # seat 0 opens with this seed
        await four.step()
        arena = await started("arena")
        send_input(arena, ANN, {"seq": 5, "mx": 1})
        await arena.step()
        send_input(arena, ANN, {"seq": 5, "mx": -1})
        await arena.step()
        return four, arena

    four, arena = run(scenario())
    [refused] = four.transport.errors(channel(1))
    assert (refused["code"], refused["reason"]) == (protocol.ErrorCode.ILLEGAL, "not_your_turn")
    assert four.log == []
    [stale] = arena.transport.errors(channel(0))
    assert (stale["code"], stale["reason"]) == (protocol.ErrorCode.ILLEGAL, "stale_input")
    assert ship(arena, 0).controls.move_x == 1.0


# --- The start gate -------------------------------------------------------------------------


def test_the_match_starts_only_when_every_seated_player_is_connected_and_ready():
    async def scenario() -> None:
        runner = new_runner("connect_four")
        join(runner, ANN)
        join(runner, BEN)
        ready(runner, ANN)
        await steps(runner, 3)
        assert runner.status == "waiting" and runner.store.started == []
        leave(runner, BEN)
        ready(runner, BEN)  # from a socket that is gone: nothing
        await steps(runner, 1)
        assert runner.status == "waiting"
        join(runner, BEN, "socket-1b")
        ready(runner, BEN, "socket-1b")
        await steps(runner, 1)
        assert runner.status == "active"
        assert runner.store.started == [[ANN.player_id, BEN.player_id]]
        [(to, state)] = runner.transport.states()
        assert sorted(to) == [channel(0), "socket-1b"] and state["tick"] == 0

    run(scenario())


def test_enough_ready_players_do_not_start_it_while_another_seated_one_is_not_ready():
    async def scenario() -> None:
        runner = new_runner("arena", seats=[*SEATS, _third()])
        for seat in (ANN, BEN, _third()):
            join(runner, seat)
        ready(runner, ANN)
        ready(runner, BEN)  # two: the arena's minimum
        await steps(runner, 3, 0.05)
        assert runner.status == "waiting" and runner.store.started == []
        ready(runner, _third())
        await steps(runner, 1)
        assert runner.status == "active" and len(runner.state.ships) == 3

    run(scenario())


def test_a_seat_left_empty_before_the_start_is_given_up_so_the_others_can_start():
    async def scenario() -> None:
        runner = new_runner("arena", seats=[*SEATS, _third()])
        for seat in (ANN, BEN, _third()):
            join(runner, seat)
        ready(runner, ANN)
        ready(runner, BEN)
        leave(runner, _third())
        await steps(runner, 1)
        await steps(runner, 1, WAITING_SEAT_SECONDS - 0.1)
        assert runner.status == "waiting" and runner.store.left == []
        await steps(runner, 1, 0.2)
        assert runner.store.left == [103]
        assert runner.status == "active" and len(runner.state.ships) == 2

    run(scenario())


# --- Grace and abandonment ------------------------------------------------------------------


def test_a_player_back_within_the_grace_period_keeps_the_seat():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four")
        leave(runner, ANN)
        await steps(runner, 1)
        await steps(runner, 1, runner.grace - 0.5)
        join(runner, ANN, "socket-0b")
        await steps(runner, 1, 1.0)
        send_input(runner, ANN, {"column": 3}, "socket-0b")
        await steps(runner, 5, 1.0)
        return runner

    runner = run(scenario())
    assert runner.status == "active" and not runner.seats[ANN.player_id].abandoned
    assert runner.log == [[3, 0, {"column": 3}]]


def test_a_seat_gone_past_the_grace_period_is_abandoned_by_the_games_rule():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four")
        leave(runner, BEN)
        await steps(runner, 1)
        await steps(runner, 1, runner.grace - 0.1)
        assert runner.status == "active"
        await steps(runner, 1, 0.2)
        return runner

    runner = run(scenario())
    assert runner.status == "finished"
    assert runner.store.finished == "Player 1 wins: player 2 left the match."
    assert [(r.seat, r.outcome) for r in runner.store.results] == [(0, "win"), (1, "abandoned")]
    assert runner.log[-1][1:] == [1, None]  # the abandonment is in the replay log


# --- Superseded sockets ---------------------------------------------------------------------


def test_a_seats_second_socket_replaces_the_first_which_is_closed_4010():
    async def scenario() -> MatchRunner:
        runner = await started("arena")
        runner.transport.clear()
        join(runner, ANN, "socket-0b")
        send_input(runner, ANN, {"seq": 1, "mx": 1}, channel(0))  # the old one, too late
        await steps(runner, 1)
        leave(runner, ANN, channel(0))  # the old socket's end changes nothing
        send_input(runner, ANN, {"seq": 2, "my": 1}, "socket-0b")
        await steps(runner, 1)
        return runner

    runner = run(scenario())
    assert runner.transport.closes() == [([channel(0)], protocol.CloseCode.SUPERSEDED)]
    assert runner.transport.of_type("welcome", "socket-0b")[0]["you"]["seat"] == 0
    seat = runner.seats[ANN.player_id]
    assert seat.channel == "socket-0b" and seat.disconnected_at is None
    assert (ship(runner, 0).last_seq, ship(runner, 0).controls.move_y) == (2, 1.0)
    states = runner.transport.states()
    assert channel(0) not in states[-1][0] and "socket-0b" in states[-1][0]


# --- A seat whose socket is gone holds still ------------------------------------------------


def test_a_ship_whose_socket_drops_stops_instead_of_flying_on_into_the_wall():
    async def scenario() -> MatchRunner:
        runner = await started("arena")
        send_input(runner, ANN, {"seq": 1, "mx": 1, "fire": True})
        await steps(runner, 5)
        moving = ship(runner, 0).x
        leave(runner, ANN)
        send_input(runner, ANN, {"seq": 2, "mx": 1})  # in flight from the gone socket
        await steps(runner, 1)
        stopped = ship(runner, 0).x
        await steps(runner, 40, 0.05)
        assert ship(runner, 0).x == stopped == moving  # without it: at the wall by now
        assert not ship(runner, 0).controls.fire
        join(runner, ANN, "socket-0b")  # back: her inputs count again
        send_input(runner, ANN, {"seq": 9, "mx": -1}, "socket-0b")
        await steps(runner, 2)
        assert ship(runner, 0).x < stopped
        return runner

    runner = run(scenario())
    neutral = [entry for entry in runner.log if entry[1] == 0 and entry[2] == {"seq": 2}]
    assert len(neutral) == 1  # logged, so the replay holds still too
    tick = runner.game.current_tick(runner.state)
    again = replay(
        runner.game, runner.info.settings, 2, runner.info.seed, runner.log, until_tick=tick
    )
    assert runner.game.checkpoint(again) == runner.game.checkpoint(runner.state)


# --- When every player has left -------------------------------------------------------------


def test_a_match_everyone_left_is_aborted_even_if_its_turn_clock_ran_out_first():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four", {"turn_seconds": 5})
        leave(runner, ANN)
        leave(runner, BEN)
        await steps(runner, 60, 0.1)  # the clock forfeits seat 0 at tick 50, within the grace
        assert runner.store.finished is None and runner.status == "active"
        await steps(runner, 1, runner.grace)
        return runner

    runner = run(scenario())
    assert runner.status == "aborted" and runner.store.aborted == EVERYONE_LEFT_REASON
    assert runner.store.finished is None and runner.transport.ended == []


def test_a_result_reached_while_everyone_was_away_counts_once_a_player_is_back():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four", {"turn_seconds": 5})
        leave(runner, ANN)
        leave(runner, BEN)
        await steps(runner, 60, 0.1)
        join(runner, BEN, "socket-1b")
        await steps(runner, 1, 0.1)
        return runner

    runner = run(scenario())
    assert runner.status == "finished" and runner.store.aborted is None
    assert runner.store.finished == "Player 2 wins: player 1 ran out of time."


def test_a_match_whose_players_all_left_is_aborted_at_the_end_of_the_grace_period():
    async def scenario() -> MatchRunner:
        runner = await started("arena")
        leave(runner, ANN)
        leave(runner, BEN)
        await steps(runner, 1)
        await steps(runner, 1, runner.grace - 0.1)
        assert runner.status == "active"
        await steps(runner, 1, 0.2)
        return runner

    runner = run(scenario())
    assert runner.status == "aborted" and runner.store.aborted == EVERYONE_LEFT_REASON


# --- Chat -------------------------------------------------------------------------------


def test_chat_goes_through_the_runner_to_every_socket_of_the_match():
    async def scenario() -> MatchRunner:
        runner = new_runner("connect_four")
        join(runner, ANN)
        join(runner, BEN)
        runner.post(ops.Join(SPECTATOR, "watcher", None, "Eve"))
        await runner.step()
        runner.transport.clear()
        runner.post(ops.Chat(BEN.player_id, channel(1), "Ben", "good luck!"))
        runner.post(ops.Chat(SPECTATOR, "watcher", "Eve", "go Ann"))
        await runner.step()
        return runner

    runner = run(scenario())
    for socket in (channel(0), channel(1), "watcher"):
        heard = runner.transport.of_type("chat", socket)
        assert [(c["from"]["name"], c["from"]["seat"], c["text"]) for c in heard] == [
            ("Ben", 1, "good luck!"),
            ("Eve", None, "go Ann"),
        ]


# --- Checkpoint cadence ---------------------------------------------------------------------


def test_a_real_time_match_is_checkpointed_once_a_second_of_ticks():
    async def scenario() -> Checkpoints:
        runner = await started("arena")
        send_input(runner, ANN, {"seq": 1, "mx": 1})
        await steps(runner, 61)
        return runner.checkpoints  # type: ignore[return-value]

    # At the start (a process killed in the first second leaves a match to adopt), then
    # once a second of ticks.
    assert run(scenario()).ticks == [0, 20, 40, 60]


def test_a_turn_based_match_is_checkpointed_after_every_move():
    async def scenario() -> Checkpoints:
        runner = await started("connect_four")
        await steps(runner, 3)
        send_input(runner, ANN, {"column": 3})
        await steps(runner, 2)
        send_input(runner, BEN, {"column": 4})
        await steps(runner, 2)
        return runner.checkpoints  # type: ignore[return-value]

    # At the start, after each move (ticks 4 and 6), and a second of ticks after the last
    # (10 a second).
    assert run(scenario()).ticks == [0, 4, 6]


def test_a_waiting_match_that_nobody_joins_stops_its_runner():
    async def scenario() -> MatchRunner:
        runner = new_runner("arena", clock=Clock())
        await steps(runner, 1, 31.0)
        return runner

    assert run(scenario())._stopping


# --- Handing over (a drain) -------------------------------------------------------------------


def test_a_move_made_while_the_process_drains_is_in_the_checkpoint_it_hands_over():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four")
        send_input(runner, ANN, {"column": 3})
        runner.stop()  # the drain stops the loop: its last tick takes the move, then ends
        await runner.step()
        send_input(runner, BEN, {"column": 4})  # after that last tick
        await runner.hand_over()
        return runner

    runner = run(scenario())
    checkpoints: Checkpoints = runner.checkpoints  # type: ignore[assignment]
    state, log = checkpoints.load()
    assert [seat for _, seat, _ in log] == [0, 1]  # both moves, for the next process
    assert runner.game.restore(state["state"]).moves == 2
    sent = [json.loads(f["text"]) for _, f in runner.transport.states()]  # type: ignore[attr-defined]
    assert sent[-1]["state"]["moves"] == 2  # its players saw both before their sockets closed
