"""Bot seats in a MatchRunner with fakes: the runner plays them itself, with no socket,
and logs their inputs like a player's, so a replay re-simulates them."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from games.engine.replay import replay
from games.runtime.match.ports import SeatRow
from games.runtime.match.runner import MatchRunner
from tests.runtime.fakes import Checkpoints, channel, join, new_runner, ready, send_input

ANN = SeatRow(0, 101, "Ann")
BOT = SeatRow(1, 201, "Connect Four bot · normal", bot="normal")
ARENA_BOT = SeatRow(1, 202, "Arena bot · hard", bot="hard")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def start_with_bot(game: str, bot: SeatRow, settings: dict[str, Any] | None = None):
    runner = new_runner(game, settings, seats=[ANN, bot])
    join(runner, ANN)
    ready(runner, ANN)
    await runner.step()
    return runner


async def tick(runner: MatchRunner, count: int) -> None:
    for _ in range(count):
        runner.clock.advance(1.0 / runner.tick_rate)  # type: ignore[attr-defined]
        await runner.step()


def test_a_match_with_a_bot_starts_when_its_one_person_is_ready():
    runner = run(start_with_bot("connect_four", BOT))
    assert runner.status == "active"
    assert runner.store.started == [[ANN.player_id, BOT.player_id]]  # type: ignore[attr-defined]
    players = runner.transport.of_type("players")[-1]["players"]  # type: ignore[attr-defined]
    assert players[1] == {
        "seat": 1,
        "player_id": BOT.player_id,
        "name": BOT.name,
        "connected": True,
        "ready": True,
        "abandoned": False,
        "bot": True,
        "grace_left": None,
    }


def test_the_connect_four_bot_answers_on_its_turn_after_a_human_looking_delay():
    async def scenario() -> tuple[MatchRunner, list[int]]:
        runner = await start_with_bot("connect_four", BOT)
        send_input(runner, ANN, {"column": 3})
        await runner.step()
        moves = []
        for _ in range(30):  # three seconds at 10 ticks a second
            await tick(runner, 1)
            moves.append(runner.state.moves)
        return runner, moves

    runner, moves = run(scenario())
    assert moves[0] == 1  # not at once: it "thinks" for at least 0.6 s
    assert moves[-1] == 2, "the bot never moved"
    answered = moves.index(2)
    assert 5 <= answered <= 16, answered  # 0.6 to 1.5 s of ticks
    bot_moves = [entry for entry in runner.log if entry[1] == BOT.seat]
    assert len(bot_moves) == 1 and set(bot_moves[0][2]) == {"column"}
    # The bot's disc is on the board its opponent is sent.
    board = runner.game.view(runner.state, ANN.seat)["board"]
    assert sum(column.count(BOT.seat) for column in board) == 1
    assert runner.transport.errors() == []  # type: ignore[attr-defined]


def test_the_arena_bots_ship_moves():
    async def scenario() -> tuple[MatchRunner, tuple[float, float]]:
        runner = await start_with_bot("arena", ARENA_BOT)
        ship = runner.state.ships[ARENA_BOT.seat]
        start = (ship.x, ship.y)
        await tick(runner, 40)  # two seconds
        return runner, start

    runner, start = run(scenario())
    ship = runner.state.ships[ARENA_BOT.seat]
    assert abs(ship.x - start[0]) + abs(ship.y - start[1]) > 50
    assert any(entry[1] == ARENA_BOT.seat for entry in runner.log)


def test_a_bot_match_replays_to_its_recorded_end():
    async def scenario() -> MatchRunner:
        runner = await start_with_bot("arena", ARENA_BOT, {"time_limit_seconds": 5})
        await tick(runner, 5 * 20 + 5)
        return runner

    runner = run(scenario())
    assert runner.status == "finished"
    assert runner.store.finished  # type: ignore[attr-defined]
    assert sum(1 for entry in runner.log if entry[1] == ARENA_BOT.seat) > 10
    again = replay(runner.game, runner.info.settings, 2, runner.info.seed, runner.log)
    assert runner.game.view(again, None) == runner.game.view(runner.state, None)


def test_a_bot_seat_is_never_given_up_nor_abandoned():
    async def scenario() -> MatchRunner:
        runner = await start_with_bot("connect_four", BOT)
        await tick(runner, 3)
        return runner

    runner = run(scenario())
    bot = runner.roster.get(BOT.player_id)
    assert bot is not None
    assert runner.roster.expired(runner.clock() + 3600, 30.0) == []
    assert runner.roster.give_up(runner.clock() + 3600, 10.0) == []
    assert not bot.abandoned


def test_an_adopted_match_keeps_its_bot_playing():
    async def scenario() -> MatchRunner:
        runner = await start_with_bot("connect_four", BOT)
        send_input(runner, ANN, {"column": 3})
        await runner.step()
        runner.checkpointer.force()
        await runner._maybe_checkpoint(moved=True)
        checkpoints: Checkpoints = runner.checkpoints  # type: ignore[assignment]
        adopter = new_runner("connect_four", seats=[ANN, BOT], restored=checkpoints.load())
        join(adopter, ANN, channel(0))
        await tick(adopter, 30)
        return adopter

    adopter = run(scenario())
    assert adopter.state.moves == 2
    assert not adopter.roster.get(BOT.player_id).abandoned  # type: ignore[union-attr]


def test_bots_alone_never_start_a_match():
    bots = [SeatRow(0, 301, "Arena bot · easy", bot="easy"), SeatRow(1, 302, "b2", bot="easy")]

    async def scenario() -> MatchRunner:
        runner = new_runner("arena", seats=bots)
        await tick(runner, 5)
        return runner

    runner = run(scenario())
    assert runner.status == "waiting"
    assert runner.store.started == []  # type: ignore[attr-defined]


class RecordingPool(ThreadPoolExecutor):
    """A thread of its own for the bot, which notes the threads its work ran on."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.threads: set[str] = set()

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        def recorded(*a: Any, **k: Any) -> Any:
            self.threads.add(threading.current_thread().name)
            return fn(*a, **k)

        return super().submit(recorded, *args, **kwargs)


def test_a_turn_based_bot_thinks_off_the_loops_thread_and_still_moves_in_time():
    pool = RecordingPool()

    async def scenario() -> tuple[MatchRunner, list[int]]:
        runner = new_runner("connect_four", seats=[ANN, BOT], thinking=pool)
        join(runner, ANN)
        ready(runner, ANN)
        await runner.step()
        send_input(runner, ANN, {"column": 3})
        await runner.step()
        moves = []
        for _ in range(40):
            await tick(runner, 1)
            # The thread's answer is taken at the first tick after it is ready: wait for
            # it (a bounded wait on the work, not on time), as the loop would go on ticking.
            for future in list(runner.bots.thought.values()):
                future.result(timeout=5)
            moves.append(runner.state.moves)
        return runner, moves

    try:
        runner, moves = run(scenario())
    finally:
        pool.shutdown()
    assert pool.threads and threading.current_thread().name not in pool.threads
    assert moves[0] == 1 and moves[-1] == 2, moves
    assert 5 <= moves.index(2) <= 18, moves  # the delay, and a tick or two of thinking
    assert runner.transport.errors() == []  # type: ignore[attr-defined]
