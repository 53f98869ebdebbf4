"""The game's own hot paths, without a server: `python -m bench.hot_paths`.

The hot paths of an 8-player arena. Twenty times a second for every player:

- an input, from the frame the server hands its socket to the operation its
  runner applies: the socket's loop (`MatchConsumer._serve`) with its handler,
  rate limit, the protocol's decode, the acknowledgement, the game's schema
  and the operation, then the runner's own check (`MatchRunner._checked_input`);
  not the lookup of the runner (`bench/runtime_lookup.py`);
- a state, handed by the fan-out to each of the eight sockets of a match
  (`LocalSockets.deliver` to real `MatchConsumer` objects whose server send
  does nothing, so the server's own write is not counted).

Twenty times a second for every match, the engine's tick with an input for each
ship and the view its state is encoded from, and that state encoded for eight
sockets of the load generator's encoding (msgpack) or the browser's (compact,
with deltas); once a second for every match, its
checkpoint (`Game.checkpoint`). The state they run on is an arena played 300
ticks by a seeded script (ships moving, aiming and firing, bullets in flight).

Prints the time of each, the best of five runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS = 5
INPUTS = 100_000
STATES = 20_000
SOCKETS = 8
TICKS = 2_000
CHECKPOINTS = 2_000
FRAME = '{"type":"input","data":{"seq":1234,"mx":1,"my":-1,"aim":1.25,"fire":true},"ack":567}'


def _best(run: Any, calls: int) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def time_inputs() -> float:
    from games.engine import get_game
    from games.runtime.match.runner import MatchRunner
    from games.sockets.limits import TokenBucket
    from games.sockets.match import MatchConsumer

    # The runner's check reads only its game and lag bound.
    runner: Any = SimpleNamespace(game=get_game("arena"), max_lag_ms=250)

    async def to_runner(op: Any, *, lossy: bool = False) -> None:
        MatchRunner._checked_input(runner, op.data)

    consumer = MatchConsumer()
    consumer.connection = SimpleNamespace(game="arena", seat=0, player_id=7)  # type: ignore[assignment]
    consumer.channel_name = "p!0"
    consumer.acked = None
    consumer.sent_tick = 10**6  # every ack names a state it was sent
    consumer.unacked = deque()
    consumer.lossy_inputs = True
    consumer._post = to_runner  # type: ignore[method-assign]
    frame = {"type": "websocket.receive", "text": FRAME}
    end = {"type": "websocket.disconnect", "code": 1000}

    def run() -> None:
        consumer.messages = TokenBucket(10**9, 10**9)  # no rate limit in the way
        consumer.closing = False  # the end of the previous run closed it
        consumer.strikes = 0
        frames = iter([frame] * INPUTS + [end])

        async def receive() -> dict[str, Any]:
            return next(frames)

        # The consumer's own loop: the frame's handler, the rate limit, the protocol's
        # decode, the acknowledgement, the game's schema and the operation.
        asyncio.run(consumer._serve(receive))
        assert consumer.strikes == 0, "an input was refused"

    return _best(run, INPUTS)


def time_hand_off() -> float:
    from games import protocol
    from games.runtime.fanout import LocalSockets
    from games.sockets.match import MatchConsumer

    async def nothing(message: dict[str, Any]) -> None:
        return None

    local = LocalSockets()
    for n in range(SOCKETS):
        socket = MatchConsumer()
        socket.channel_name = f"p!{n}"
        socket.server_send = nothing
        socket.encoding = protocol.SUBPROTOCOL_MSGPACK
        socket.acked = None
        socket.sent_tick = -1
        socket.states_sent = 0
        socket.backlog = None
        local.add(socket)
    channels = list(local.by_channel)
    event = {"type": "match.state", "fence": 1, "tick": 1, "bytes": b"x" * 400, "text": "{}"}

    async def deliver() -> None:
        for _ in range(STATES):
            await local.deliver(channels, event)

    return _best(lambda: asyncio.run(deliver()), STATES * SOCKETS)


def _played_arena() -> tuple[Any, Any, Any]:
    """An 8-player arena 300 ticks in, and a function giving a tick's inputs."""
    from games.engine import get_game

    game = get_game("arena")
    state = game.initial_state(
        game.settings({"time_limit_seconds": 900, "score_limit": 100}), 8, 1234
    )
    script = random.Random(1)
    seq = 0

    def inputs() -> list[Any]:
        nonlocal seq
        seq += 1
        return [
            game.parse_input(
                {
                    "seq": seq,
                    "mx": script.choice((-1, 0, 1)),
                    "my": script.choice((-1, 0, 1)),
                    "aim": script.random() * 6,
                    "fire": script.random() < 0.3,
                }
            )
            for _ in range(8)
        ]

    for _ in range(300):
        for seat, data in enumerate(inputs()):
            game.apply_input(state, seat, data)
        game.tick(state)
    return game, state, inputs


def time_tick() -> float:
    best = float("inf")
    for _ in range(RUNS):  # each from a fresh state: sequence numbers only increase
        game, state, inputs = _played_arena()
        ticks = [inputs() for _ in range(TICKS)]
        started = time.perf_counter()
        for tick in ticks:
            for seat, data in enumerate(tick):
                game.apply_input(state, seat, data)
            game.tick(state)
            game.view(state, None)
        best = min(best, (time.perf_counter() - started) / TICKS)
    assert not state.finished, "the match ended while timed"
    return best


def time_encoding(encoding: str) -> float:
    """The state of a tick encoded for eight sockets speaking `encoding`.

    What `StateEncoder.encode` does once per match and tick: the game's view,
    then the frame in that encoding; for compact sockets also the quantized
    snapshot and a delta from each base acknowledged (the previous state and
    one three ticks old, as clients a tick or two behind acknowledge).
    """
    from games.runtime.match.encoder import StateEncoder

    channels = [f"p!{n}" for n in range(SOCKETS)]
    best = float("inf")
    for _ in range(RUNS):
        game, state, inputs = _played_arena()
        encoder = StateEncoder(game, tick_rate=20)
        roster: Any = SimpleNamespace(
            channels=lambda: channels,
            encodings=dict.fromkeys(channels, encoding),
            acked_ticks=lambda game_state=state: {game_state.tick - 3},
        )
        spent = 0.0
        for _ in range(TICKS):
            for seat, data in enumerate(inputs()):
                game.apply_input(state, seat, data)
            game.tick(state)
            started = time.perf_counter()
            encoder.encode(state, [], roster)
            spent += time.perf_counter() - started
        best = min(best, spent / TICKS)
    return best


def time_checkpoint() -> float:
    game, state, _ = _played_arena()

    def run() -> None:
        for _ in range(CHECKPOINTS):
            game.checkpoint(state)

    return _best(run, CHECKPOINTS)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameproject.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from games import protocol

    print(f"input, socket to runner:  {time_inputs() * 1e9:6.0f} ns per input")
    print(f"state, fan-out to socket: {time_hand_off() * 1e9:6.0f} ns per socket")
    print(f"arena tick and view:      {time_tick() * 1e6:6.1f} us per tick")
    for name, encoding in (
        ("msgpack", protocol.SUBPROTOCOL_MSGPACK),
        ("compact", protocol.SUBPROTOCOL_COMPACT),
    ):
        print(f"arena state, {name + ':':9s}   {time_encoding(encoding) * 1e6:6.1f} us per tick")
    print(f"arena checkpoint:         {time_checkpoint() * 1e6:6.1f} us per checkpoint")
    print(f"(best of {RUNS} runs each)")


if __name__ == "__main__":
    main()
