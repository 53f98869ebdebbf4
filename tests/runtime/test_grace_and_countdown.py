"""What the runner tells players about time: the grace left to a player who is away (also
after a failover), the start's countdown (nobody moves before GO), a turn clock held for
the player who stayed, and a person taking a bot's seat before the start."""

from __future__ import annotations

import asyncio
from typing import Any

from games.engine.replay import replay
from games.runtime.match import ops
from games.runtime.match.ports import SeatRow
from games.runtime.match.runner import MatchRunner
from games.services.errors import NotReady
from tests.runtime.fakes import (
    SEATS,
    Checkpoints,
    Store,
    channel,
    join,
    leave,
    new_runner,
    ready,
    send_input,
    started,
)

ANN, BEN = SEATS


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def steps(runner: MatchRunner, count: int, seconds: float = 0.0) -> None:
    for _ in range(count):
        runner.clock.advance(seconds)  # type: ignore[attr-defined]
        await runner.step()


def grace_left(frame: dict[str, Any], seat: int) -> float | None:
    return next(p["grace_left"] for p in frame["players"] if p["seat"] == seat)


def latest(runner: MatchRunner, kind: str, socket: str | None = None) -> dict[str, Any]:
    return runner.transport.of_type(kind, socket)[-1]  # type: ignore[attr-defined,no-any-return]


def resync(runner: MatchRunner, seat: SeatRow) -> None:
    runner.post(ops.Resync(seat.player_id, channel(seat.seat)))


# --- The grace left, from the server ----------------------------------------------------


def test_the_players_frame_says_how_long_an_away_player_has_left_and_it_decreases():
    async def scenario() -> tuple[MatchRunner, list[float | None]]:
        runner = await started("connect_four", grace=12.0)
        assert grace_left(latest(runner, "players"), 1) is None  # connected: no count
        leave(runner, BEN)
        await steps(runner, 1)
        seen = [grace_left(latest(runner, "players"), 1)]
        await steps(runner, 1, 4.0)
        resync(runner, ANN)  # a reload: the welcome counts from the same drop
        await steps(runner, 1)
        seen.append(grace_left(latest(runner, "welcome", channel(0)), 1))
        await steps(runner, 1, 5.0)
        resync(runner, ANN)
        await steps(runner, 1)
        seen.append(grace_left(latest(runner, "welcome", channel(0)), 1))
        return runner, seen

    runner, seen = run(scenario())
    assert seen == [12.0, 8.0, 3.0]
    assert grace_left(latest(runner, "welcome", channel(0)), 0) is None  # Ann is here


def test_a_player_back_in_time_has_no_grace_left_and_one_who_is_not_abandons():
    async def scenario() -> MatchRunner:
        runner = await started("arena", grace=5.0)
        leave(runner, BEN)
        await steps(runner, 1)
        join(runner, BEN, "socket-1b")
        await steps(runner, 1, 2.0)
        assert grace_left(latest(runner, "players"), 1) is None
        leave(runner, BEN, "socket-1b")
        await steps(runner, 1)
        assert grace_left(latest(runner, "players"), 1) == 5.0  # a new drop: the full period
        await steps(runner, 1, 5.1)
        return runner

    runner = run(scenario())
    players = latest(runner, "players")["players"]
    assert runner.status == "finished"  # one ship left: the match ends with its win
    assert [(r.seat, r.outcome) for r in runner.store.results] == [(0, "win"), (1, "abandoned")]
    assert players[1]["abandoned"] and players[1]["grace_left"] is None


def test_after_a_failover_every_away_player_gets_the_whole_grace_period_again():
    async def scenario() -> tuple[MatchRunner, float | None, float | None]:
        runner = await started("connect_four", grace=30.0)
        leave(runner, BEN)
        await steps(runner, 1)
        await steps(runner, 1, 20.0)
        runner.checkpointer.force()
        await runner._maybe_checkpoint(moved=False)
        before = grace_left(latest(runner, "players"), 1)
        checkpoints: Checkpoints = runner.checkpoints  # type: ignore[assignment]
        adopter = new_runner("connect_four", grace=30.0, restored=checkpoints.load())
        join(adopter, ANN)
        await steps(adopter, 1)
        return adopter, before, grace_left(latest(adopter, "welcome", channel(0)), 1)

    adopter, before, after = run(scenario())
    assert before == 30.0  # the frame of the drop; the dead runner counted 20 s of it since
    assert after == 30.0  # the adopter starts it again, and says so
    assert grace_left(latest(adopter, "players"), 1) == 30.0


# --- The start's countdown --------------------------------------------------------------


def test_nobody_moves_or_fires_before_go_and_the_replay_agrees():
    async def scenario() -> tuple[MatchRunner, list[float], dict[str, Any]]:
        runner = await started("arena", countdown=3.0)
        start = latest(runner, "players")
        where = [ship.x for ship in runner.state.ships]
        for n in range(1, 60):  # three seconds of ticks, every key held
            send_input(runner, ANN, {"seq": n, "mx": 1, "fire": True, "ticks": 1})
            send_input(runner, BEN, {"seq": n, "my": 1, "fire": True, "ticks": 1})
            await steps(runner, 1, 0.05)
        assert [ship.x for ship in runner.state.ships] == where
        assert runner.state.tick == 0 and runner.state.bullets == [] and runner.log == []
        assert runner.transport.states()[-1][1]["text"]  # type: ignore[attr-defined]
        await steps(runner, 1, 0.05)  # the 60th: GO
        send_input(runner, ANN, {"seq": 100, "mx": 1, "fire": True, "ticks": 1})
        await steps(runner, 1, 0.05)
        return runner, where, start

    runner, where, start = run(scenario())
    assert start["starts_in"] == 3.0
    assert runner.state.tick == 1 and runner.state.ships[0].x > where[0]
    assert runner.log == [[0, 0, {"seq": 100, "mx": 1.0, "fire": True, "ticks": 1}]]
    again = replay(runner.game, runner.info.settings, 2, runner.info.seed, runner.log, until_tick=1)
    assert runner.game.checkpoint(again) == runner.game.checkpoint(runner.state)


def test_a_welcome_during_the_countdown_says_how_long_is_left_and_none_after_go():
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        runner = await started("arena", countdown=3.0)
        await steps(runner, 20, 0.05)
        resync(runner, ANN)
        await steps(runner, 1, 0.05)
        during = latest(runner, "welcome", channel(0))
        await steps(runner, 60, 0.05)
        resync(runner, ANN)
        await steps(runner, 1, 0.05)
        return during, latest(runner, "welcome", channel(0))

    during, after = run(scenario())
    assert during["starts_in"] == 2.0 and during["tick"] == 0
    assert "starts_in" not in after and after["tick"] > 0


def test_an_adopted_countdown_goes_on_from_its_checkpoint():
    async def scenario() -> MatchRunner:
        runner = await started("arena", countdown=3.0)
        await steps(runner, 40, 0.05)
        runner.checkpointer.force()
        await runner._maybe_checkpoint(moved=False)
        checkpoints: Checkpoints = runner.checkpoints  # type: ignore[assignment]
        adopter = new_runner("arena", countdown=3.0, restored=checkpoints.load())
        join(adopter, ANN)
        await steps(adopter, 1, 0.05)
        return adopter

    adopter = run(scenario())
    assert latest(adopter, "welcome", channel(0))["starts_in"] == 1.0
    assert adopter.state.tick == 0


def test_connect_four_has_no_countdown():
    runner = run(started("connect_four"))
    assert runner.countdown_ticks == 0 and latest(runner, "players")["starts_in"] is None


# --- Connect Four: nobody loses on time to a player who is gone ----------------------------


def test_the_player_who_stayed_does_not_lose_on_time_while_the_other_is_away():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four", {"turn_seconds": 5}, grace=12.0)
        mover = runner.state.to_move
        gone = SEATS[1 - mover]
        leave(runner, gone)
        await steps(runner, 100, 0.1)  # ten seconds: twice the turn clock
        assert runner.status == "active" and runner.state.tick == 0
        await steps(runner, 30, 0.1)  # the grace period ends
        return runner

    runner = run(scenario())
    mover = runner.state.to_move
    assert runner.status == "finished"
    outcomes = {r.seat: r.outcome for r in runner.store.results}
    assert outcomes == {mover: "win", 1 - mover: "abandoned"}


def test_the_clock_runs_on_when_the_other_is_back():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four", {"turn_seconds": 5}, grace=12.0)
        gone = SEATS[1 - runner.state.to_move]
        leave(runner, gone)
        await steps(runner, 30, 0.1)
        join(runner, gone, "socket-back")
        await steps(runner, 60, 0.1)
        return runner

    runner = run(scenario())
    assert runner.status == "finished"
    assert runner.store.finished.endswith("ran out of time.")  # type: ignore[union-attr]


def test_a_player_who_drops_on_their_own_turn_gains_no_time():
    async def scenario() -> MatchRunner:
        runner = await started("connect_four", {"turn_seconds": 5}, grace=30.0)
        leave(runner, SEATS[runner.state.to_move])
        await steps(runner, 60, 0.1)
        return runner

    runner = run(scenario())
    assert runner.status == "finished"
    assert runner.store.finished.endswith("ran out of time.")  # type: ignore[union-attr]


# --- A person in a bot's seat -------------------------------------------------------------


class SeatedStore(Store):
    """Starts only with every seated player present, as services.start_match does."""

    async def start(self, match_id: str, present: list[int], fence: int | None) -> list[SeatRow]:
        if not {s.player_id for s in self.seats} <= set(present):
            self.started.append(present)
            raise NotReady("not everyone is here")
        return await super().start(match_id, present, fence)


def test_a_person_seated_in_a_bots_place_before_the_start_plays_it_instead_of_the_bot():
    bot = SeatRow(1, 201, "Arena bot · normal", bot="normal")

    async def scenario() -> MatchRunner:
        runner = new_runner("arena", seats=[ANN, bot])
        runner.store = SeatedStore([ANN, BEN])  # the queue swapped the bot for Ben since
        join(runner, ANN)
        ready(runner, ANN)
        await steps(runner, 1)
        join(runner, BEN)  # seat 1, as the database says
        await steps(runner, 1)
        assert runner.status == "waiting"
        ready(runner, BEN)
        await steps(runner, 1)
        return runner

    runner = run(scenario())
    assert runner.status == "active"
    players = latest(runner, "players")["players"]
    assert [(p["player_id"], p["bot"]) for p in players] == [(101, False), (102, False)]
    assert runner.store.started[-1] == [ANN.player_id, BEN.player_id]  # type: ignore[attr-defined]
