"""The arena plays a recorded match as the release that recorded it did.

A replay (and a match adopted from its checkpoint by a process of another
release, in a rolling deploy) re-runs the engine on the logged inputs. If a
change to the engine moved a ship or a bullet by the last bit of a float, old
replays would drift away from what was played: another hit, another winner.
So the engine's arithmetic is pinned here: a scripted set of matches (every
kind of input: held controls, ticks of movement, lag-compensated shots, a seat
removed, a checkpoint restored mid-match) must give, tick by tick, exactly the
views, events, checkpoints and outcomes it gave when this test was written.

A change that alters them on purpose is a new revision of the rules (see
`games.engine.arena.RULES`), which keeps the old arithmetic for old matches;
then this digest stays and a new one is added for the new rules.
"""

import hashlib
import random

import msgspec

from games.engine import get_game
from games.engine.base import IllegalInput

# sha256 of the scripted matches below, as the engine played them when written.
RECORDED = "fe1c262c4007c234c836598c49e5ed8235366224f2f4a711e68a644aeea7b3f9"


def _digest() -> str:
    game = get_game("arena")
    digest = hashlib.sha256()

    def add(value: object) -> None:
        digest.update(msgspec.msgpack.encode(value))

    for seed in range(6):
        seats = 2 + seed
        settings = game.settings({"time_limit_seconds": 60, "score_limit": 6})
        state = game.initial_state(settings, seats, seed)
        script = random.Random(seed)  # the players; not part of the state
        seqs = [0] * seats
        for tick in range(1_200):
            for seat in range(seats):
                if script.random() < 0.2:
                    continue  # no input from this seat at this tick
                seqs[seat] += 1
                raw = {
                    "seq": seqs[seat],
                    "mx": script.choice((-1, -0.5, 0, 0.7, 1)),
                    "my": script.choice((-1, 0, 0.3, 1)),
                    "fire": script.random() < 0.4,
                }
                if script.random() < 0.7:
                    raw["aim"] = script.uniform(-6.28, 6.28)
                if seed % 2:
                    raw["lag"] = script.randrange(0, 300)
                if seed % 3 == 0:
                    raw["ticks"] = script.choice((0, 1, 1, 2))
                data = game.clamp_input(game.parse_input(raw), 250)
                try:
                    add([e.kind for e in game.apply_input(state, seat, data)])
                except IllegalInput as refused:  # the game over for this ship: refused alike
                    add(type(refused).__name__)
            if seed == 4 and tick == 300:
                add([e.kind for e in game.remove_seat(state, 1)])
            add([[e.kind, e.data] for e in game.tick(state)])
            add(game.view(state, None))
            if tick % 100 == 0:
                add(game.checkpoint(state))
            if tick == 600:  # as a process adopting the match does
                saved = msgspec.json.encode(game.checkpoint(state))
                state = game.restore(msgspec.json.decode(saved))
            if state.finished:
                break
        outcome = game.outcome(state)
        add(outcome)  # a dataclass: msgspec encodes its fields
    return digest.hexdigest()


def test_the_arena_plays_scripted_matches_exactly_as_when_they_were_recorded():
    assert _digest() == RECORDED, (
        "The arena's arithmetic changed: recorded matches would replay differently. "
        "Keep the old rules for old matches (games.engine.arena.RULES)."
    )
