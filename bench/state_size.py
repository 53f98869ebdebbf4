"""Bytes per state message of an 8-player arena match, in each encoding.

    .venv/bin/python bench/state_size.py

Plays a seeded 8-player arena match with random inputs (every ship moving,
aiming and firing) for 30 simulated seconds, encodes every tick's state frame
exactly as the runner does, and prints the size distribution per encoding.
No server is involved: this measures the wire format, not the network.
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from games import protocol
from games.engine import arena_wire, get_game


def main(seconds: int = 30, seats: int = 8, seed: int = 2026) -> None:
    game = get_game("arena")
    settings = game.settings({"time_limit_seconds": 120, "score_limit": 100})
    state = game.initial_state(settings, seats, seed)
    players = random.Random(seed)
    seqs = [0] * seats
    sizes: dict[str, list[int]] = {
        "json (arcade.v1.json)": [],
        "msgpack (arcade.v1.msgpack)": [],
        "compact, full": [],
        "compact, delta 1 tick back": [],
        "compact, delta 3 ticks back": [],
    }
    history: list[arena_wire.Snapshot] = []
    for _ in range(seconds * game.tick_rate):
        for seat in range(seats):
            seqs[seat] += 1
            game.apply_input(
                state,
                seat,
                game.parse_input(
                    {
                        "seq": seqs[seat],
                        "mx": players.uniform(-1, 1),
                        "my": players.uniform(-1, 1),
                        "aim": players.uniform(0, 6.28),
                        "fire": players.random() < 0.5,
                    }
                ),
            )
        events = game.tick(state)
        frame = {
            "type": "state",
            "tick": game.current_tick(state),
            "state": game.view(state, None),
            "events": [{"kind": e.kind, **e.data} for e in events],
        }
        sizes["json (arcade.v1.json)"].append(len(protocol.encode(frame).encode()))
        sizes["msgpack (arcade.v1.msgpack)"].append(len(protocol.encode_binary(frame)))
        # arcade.v1.compact: full, or a delta from the state the client acknowledged,
        # one tick back on a fast link, three back at about 100 ms round trip.
        snap = arena_wire.snapshot(frame["state"])
        sizes["compact, full"].append(len(arena_wire.encode(snap, frame["events"])))
        for back in (1, 3):
            if len(history) >= back:
                delta = arena_wire.encode(snap, frame["events"], history[-back])
                sizes[f"compact, delta {back} tick{'s' if back > 1 else ''} back"].append(
                    len(delta)
                )
        history.append(snap)
    bullets = len(state.bullets)
    print(f"{seats}-player arena, {seconds} s at {game.tick_rate} Hz, {bullets} bullets in flight")
    print(f"{'encoding':<30}{'mean':>8}{'p50':>8}{'p99':>8}{'max':>8}  bytes per state message")
    for name, values in sizes.items():
        values.sort()
        p99 = values[int(len(values) * 0.99) - 1]
        print(
            f"{name:<30}{statistics.mean(values):>8.0f}{statistics.median(values):>8.0f}"
            f"{p99:>8}{values[-1]:>8}"
        )


if __name__ == "__main__":
    main()
