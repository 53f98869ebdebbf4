"""The runner survives any input and any faulty tick: arbitrary JSON through each game's
real input path (the socket's decode and validation, the runner, the checkpoint
encoding), and games that raise, on a MatchRunner built with in-memory fakes of its
transport, store and checkpoints (the Protocols of games/runtime/match/ports.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from games import protocol
from games.engine import GAMES, get_game
from games.engine.base import InvalidInput
from games.engine.replay import replay
from games.runtime.match import ops
from games.runtime.match.runner import BROKEN_REASON, MAX_FAILED_TICKS, MatchRunner
from games.sockets.match import MatchConsumer
from tests.runtime.fakes import SEATS, Checkpoints, started
from tests.secret_game import BrokenGame, SecretGame


@pytest.fixture(autouse=True, scope="module")
def test_games():
    GAMES["secret"], GAMES["broken"] = SecretGame(), BrokenGame()
    yield
    del GAMES["secret"], GAMES["broken"]


def socket_input(runner: MatchRunner, seat: int, frame: str) -> str:
    """What the match socket does with a frame: decode, validate, post. Returns the
    error code the client gets, or "" if the input reached the runner."""
    try:
        message = protocol.decode(frame)
    except protocol.ProtocolError as exc:
        return exc.code
    if not isinstance(message, protocol.Input):
        return "other"
    consumer = MatchConsumer()
    consumer.connection = SimpleNamespace(game=runner.info.game)
    try:
        data = consumer._game_input(message.data)
    except InvalidInput as exc:
        assert f"`{exc.field}`" in exc.reason  # the error frame names the field
        return protocol.ErrorCode.INVALID
    player = SEATS[seat].player_id
    runner.post(ops.Input(player, f"socket-{seat}", data, message.ack))
    return ""


def errors(game: str, where: str) -> float:
    labels = {"game": game, "where": where}
    return REGISTRY.get_sample_value("arcade_runner_errors_total", labels) or 0.0


async def assert_checkpoint_restores(runner: MatchRunner) -> None:
    """The checkpoint the runner writes now loads, equals the live state, and its log
    replays from the seed to the same state."""
    game, checkpoints = runner.game, runner.checkpoints
    assert isinstance(checkpoints, Checkpoints)
    runner.checkpointer.force()  # due now, as a hand-over forces it
    await runner._maybe_checkpoint(moved=False)
    payload, log = checkpoints.load()
    restored = game.restore(payload["state"])
    assert game.checkpoint(restored) == game.checkpoint(runner.state)
    tick = game.current_tick(runner.state)
    again = replay(game, runner.info.settings, 2, runner.info.seed, log, until_tick=tick)
    assert game.checkpoint(again) == game.checkpoint(runner.state)


# --- Arbitrary JSON through the real input path -------------------------------------------

HUGE = [10**400, -(10**400), 2**63, 2**64, -(2**70), 2**31, -1, 0]
numbers = st.one_of(
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def fitting(kind: mi.Type) -> st.SearchStrategy[Any]:
    """Values a field of this msgspec type accepts (its bounds included)."""
    if isinstance(kind, mi.IntType):
        return st.integers(kind.ge, kind.le)
    if isinstance(kind, mi.FloatType):
        return st.floats(kind.ge, kind.le)
    if isinstance(kind, mi.UnionType):
        return st.one_of([fitting(option) for option in kind.types])
    if isinstance(kind, mi.BoolType):
        return st.booleans()
    assert isinstance(kind, mi.NoneType), kind
    return st.none()


def inputs_of(game: str) -> st.SearchStrategy[Any]:
    """Inputs that fit the game's schema, some with one field changed to anything."""
    schema = mi.type_info(get_game(game).Input)
    assert isinstance(schema, mi.StructType)
    fitting_input = st.fixed_dictionaries(
        {f.name: fitting(f.type) for f in schema.fields if f.required},
        optional={f.name: fitting(f.type) for f in schema.fields if not f.required},
    )
    names = [f.name for f in schema.fields]
    keys = st.sampled_from([*names, "x", "type"]) | st.text(max_size=8)
    changed = st.builds(lambda d, k, v: {**d, k: v}, fitting_input, keys, values)
    return fitting_input | changed | st.dictionaries(keys, values, max_size=6) | values


def frames_for(game: str) -> st.SearchStrategy[str]:
    fields = [f.name for f in mi.type_info(get_game(game).Input).fields]
    keys = st.sampled_from([*fields, "x", "type"]) | st.text(max_size=8)
    data = inputs_of(game)
    acks = st.none() | st.integers(0, 100) | values
    frame = st.builds(lambda d, ack: {"type": "input", "data": d, "ack": ack}, data, acks)
    as_text = frame.map(lambda f: json.dumps(f, allow_nan=True))
    # Nesting beyond what json.dumps writes, in an input field and in an unknown one.
    nested = st.builds(
        lambda field, depth: json.dumps({"type": "input", "data": {field: 0}}).replace(
            "0}", deep(depth) + "}"
        ),
        keys,
        st.integers(1, 1_500),
    )
    return as_text | nested


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# Every registered game, and the test game with hidden information.
GAME_KEYS = [*sorted(set(GAMES) - {"secret", "broken"}), "secret"]


@pytest.mark.parametrize("game", GAME_KEYS)
def test_arbitrary_inputs_through_the_socket_path_never_stop_the_match(game):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.lists(st.tuples(st.integers(0, 1), frames_for(game)), max_size=4)))
    def check(ticks):
        run(play(game, ticks))

    before = {where: errors(game, where) for where in ("input", "tick", "step")}
    check()
    # Nothing reached the game that it could not take: validation stood in front.
    assert {where: errors(game, where) for where in before} == before


async def play(game: str, ticks: list[list[tuple[int, str]]]) -> None:
    runner = await started(game)
    for frames in ticks:
        for seat, frame in frames:
            socket_input(runner, seat, frame)
        tick = runner.game.current_tick(runner.state)
        await runner.guarded_step()
        if runner.status != "active":
            # Only the rules end a match: a won game of valid moves, never an abort.
            assert runner.store.aborted is None and runner.store.finished
            return
        assert runner.game.current_tick(runner.state) == tick + 1
    await assert_checkpoint_restores(runner)


inbox_messages = st.one_of(
    st.fixed_dictionaries(
        {"op": st.just("input"), "player_id": st.sampled_from([101, 102, 999]), "data": values},
        optional={"channel": values, "ack": values},
    ),
    st.fixed_dictionaries(
        {"op": st.sampled_from(["join", "leave", "ready", "input", "resync", "?"])},
        optional={k: values for k in ("player_id", "channel", "seat", "name", "subprotocol")},
    ),
    values,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(inbox_messages, max_size=4), max_size=8))
def test_arbitrary_messages_in_the_runners_inbox_never_stop_the_match(ticks):
    """Operations from other processes come over Redis: their process decodes them (and
    drops what does not decode), the runner checks the inputs again."""
    before = [errors("arena", "step"), errors("arena", "input")]

    async def scenario():
        runner = await started("arena")
        for messages in ticks:
            for message in messages:
                op = ops.from_wire(message)
                if op is not None:
                    runner.post(op)
            tick = runner.game.current_tick(runner.state)
            await runner.guarded_step()
            assert runner.status == "active"
            assert runner.game.current_tick(runner.state) == tick + 1
        await assert_checkpoint_restores(runner)

    run(scenario())
    assert [errors("arena", "step"), errors("arena", "input")] == before


def test_an_invalid_input_from_another_process_is_refused_by_the_runner():
    async def scenario():
        runner = await started("arena")
        for data in (
            {"seq": 1, "mx": 10**400},
            {"seq": 2, "x": 2**70},
            {"seq": 3, "pad": "x" * 4096},
        ):
            runner.post(ops.Input(101, "socket-0", data))
            await runner.guarded_step()
        await assert_checkpoint_restores(runner)
        return runner

    runner = run(scenario())
    assert runner.log == []  # nothing of it was applied or logged
    assert [e["code"] for e in runner.transport.errors()] == ["invalid"] * 3
    assert [e["message"].split(":")[0] for e in runner.transport.errors()] == [
        "Invalid input field `mx`",
        "Invalid input field `x`",
        "Invalid input field `pad`",
    ]


def test_only_the_validated_fields_are_logged_and_checkpointed():
    async def scenario():
        runner = await started("arena")
        frame = {"type": "input", "data": {"seq": 1, "mx": 1, "fire": True}}
        assert socket_input(runner, 0, json.dumps(frame)) == ""
        await runner.guarded_step()
        await assert_checkpoint_restores(runner)
        return runner

    runner = run(scenario())
    assert runner.log == [[0, 0, {"seq": 1, "mx": 1.0, "fire": True}]]
    _, log = runner.checkpoints.load()
    assert log == runner.log


# --- Games that raise ---------------------------------------------------------------------


def post_guess(runner: MatchRunner, seat: int, guess: int) -> None:
    socket_input(runner, seat, json.dumps({"type": "input", "data": {"guess": guess}}))


def test_an_input_that_raises_is_dropped_logged_once_and_counted(caplog):
    before = errors("broken", "input")

    async def scenario():
        runner = await started("broken", {"ticks": 1000})
        post_guess(runner, 0, 1111)
        post_guess(runner, 1, 2222)
        with caplog.at_level(logging.ERROR, logger="games.runtime.match.runner"):
            await runner.guarded_step()
            await runner.guarded_step()
        return runner

    runner = run(scenario())
    assert errors("broken", "input") == before + 1
    assert runner.status == "active" and runner.game.current_tick(runner.state) == 2
    assert runner.log == [[0, 1, {"guess": 2222}]]  # seat 0's input was dropped
    logged = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(logged) == 1
    assert "test-broken" in logged[0].getMessage() and "seat 0" in logged[0].getMessage()
    assert "1111" in logged[0].getMessage()


@pytest.mark.parametrize("failing", [MAX_FAILED_TICKS - 1, MAX_FAILED_TICKS])
def test_a_tick_that_keeps_raising_aborts_the_match_in_words(failing):
    before = errors("broken", "tick")

    async def scenario():
        runner = await started("broken", {"ticks": 1000})
        post_guess(runner, 0, 9000 + failing)
        for _ in range(failing + 3):
            await runner.guarded_step()
        return runner

    runner = run(scenario())
    assert errors("broken", "tick") == before + failing
    if failing < MAX_FAILED_TICKS:
        assert runner.status == "active" and runner.store.aborted is None
        assert not runner._stopping
    else:
        assert runner.status == "aborted" and runner.store.aborted == BROKEN_REASON
        assert runner._stopping and runner.checkpoints.deleted  # no adoption of a broken match


def test_a_move_is_checkpointed_before_any_player_sees_it():
    # A process killed between the two must not leave players with a move on their
    # board that the adopting process never heard of.
    async def scenario() -> list[str]:
        runner = await started("connect_four")
        order: list[str] = []
        save, deliver = runner.checkpoints.save, runner.transport.deliver

        async def saving(*args: Any) -> bool:
            order.append("checkpoint")
            return await save(*args)

        async def delivering(channels: Any, kind: str, **fields: Any) -> None:
            if kind == "match.state":
                order.append("state")
            await deliver(channels, kind, **fields)

        runner.checkpoints.save, runner.transport.deliver = saving, delivering
        runner.post(ops.Input(101, "socket-0", {"column": 3}))
        await runner.step()
        return order

    assert run(scenario()) == ["checkpoint", "state"]
