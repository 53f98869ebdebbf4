"""Arena: 2-8 ships move, aim and shoot in a walled field. Most hits wins.

Each input sets a ship's controls (move direction, aim angle, trigger) until the
next one; the server applies at most one input of every seat per tick (its
input buffer, games/runtime/match/inputs.py, merges a backlog with
`merge_inputs`). An input with `ticks` set is that many ticks of movement
instead (the browser's: the movement of one interval, one tick): it moves the
ship at the tick it is applied and no further, so a tick with no input of the
seat (one late on the network) moves the ship by nothing, and where the ship
ends depends only on the inputs applied, in order, not on the ticks they met.
That is what lets the client's prediction agree with the server by construction.
A ship hit `hp` times is out for a moment and respawns at a seeded random spot.
The match ends at the time limit or when someone reaches the score limit.

Lag compensation: an input says how far behind the server its sender sees the
other ships (`lag`, clamped by the server before it is applied and logged, then
to REWIND_LIMIT_MS here); the bullets it fires hit ships where they were that
long ago, from a short trail of positions kept in the state. Everything it uses
is in the logged inputs or derived from them, so replays hit the same.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, ClassVar

import msgspec

from games.engine import arena_wire
from games.engine.base import JSON, CompactStates, Event, Game, IllegalInput, Outcome, SeatOutcome

if TYPE_CHECKING:
    from games.engine.arena_bot import ArenaBot

WIDTH = 960.0
HEIGHT = 640.0
SHIP_RADIUS = 16.0
# Where a ship's centre may be: the field less its radius on every side.
_MIN_X, _MAX_X = SHIP_RADIUS, WIDTH - SHIP_RADIUS
_MIN_Y, _MAX_Y = SHIP_RADIUS, HEIGHT - SHIP_RADIUS
SHIP_SPEED = 220.0  # units per second
BULLET_SPEED = 520.0
BULLET_TICKS = 36  # a bullet lives this many ticks (1.8 s at 20 Hz): crosses the field
FIRE_COOLDOWN_TICKS = 6
RESPAWN_TICKS = 40
MAX_HP = 3
MAX_SEQ = 2**31 - 1  # input sequence numbers: plenty for any match, and fit every encoding
# The longest lag a shot is compensated for, whatever the server's setting: the trail of
# ship positions covers this much (a longer one would let a laggy client hit ships that
# have long since moved away, and make every checkpoint bigger).
REWIND_LIMIT_MS = 500
# The most lag an input may claim at all (more is invalid); claims up to it are clamped.
MAX_CLAIMED_LAG_MS = 10_000
# The most ticks of movement one input carries: a client's input counts as one at most,
# the server's merges of a backlog make more (a merge past this loses the excess).
MAX_INPUT_TICKS = 20
# The rules' revisions, kept so that every recorded match replays as it was played:
# 1, a ship fed inputs of one tick of movement kept its trigger on ticks without an input
# (a tap could fire twice); 2, such a ship fires only on a tick its input arrived for,
# as it moves only then. Held controls (`ticks` 0) keep firing under both.
RULES = 2


Unit = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]
Angle = Annotated[float, msgspec.Meta(ge=-math.tau, le=math.tau)]


class ArenaInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """A ship's controls until its next input. Unknown fields and anything out of range are
    refused; leaving out `aim` keeps the ship's current aim."""

    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]  # increases with every input of a seat
    mx: Unit = 0.0  # -1 (left) to 1 (right)
    my: Unit = 0.0  # -1 (up) to 1 (down)
    aim: Angle | None = None  # radians, taken modulo 2 pi
    fire: bool = False
    # Milliseconds the sender sees other ships behind the server (its interpolation
    # delay plus half its round trip): its shots are judged against where they were.
    lag: Annotated[int, msgspec.Meta(ge=0, le=MAX_CLAIMED_LAG_MS)] = 0
    # 0: the movement holds until the next input. 1 or more: this input is that many
    # ticks of movement (mx, my per tick), all moved at the tick it is applied; a tick
    # without an input does not move the ship. A client's input counts as one at most.
    ticks: Annotated[int, msgspec.Meta(ge=0, le=MAX_INPUT_TICKS)] = 0


# Slotted: a server builds a Controls per input and reads these fields many times a
# tick; a slotted instance is built and read faster than one with a __dict__.
@dataclass(slots=True)
class Controls:
    move_x: float = 0.0
    move_y: float = 0.0
    aim: float = 0.0
    fire: bool = False
    rewind: int = 0  # ticks back that this ship's new bullets judge hits (from `lag`)
    ticks: int = 0  # the input's `ticks`: 0, the movement holds; else moved once, that often


@dataclass(slots=True)
class Ship:
    seat: int
    x: float
    y: float
    aim: float = 0.0
    hp: int = MAX_HP
    score: int = 0
    respawn_at: int | None = None  # tick; None while alive
    cooldown_until: int = 0
    last_seq: int = 0
    fed_tick: int = 0  # the tick whose step followed this ship's newest input
    controls: Controls = field(default_factory=Controls)
    removed: bool = False

    @property
    def alive(self) -> bool:
        return self.respawn_at is None and not self.removed


@dataclass(slots=True)
class Bullet:
    id: int
    owner: int
    x: float
    y: float
    vx: float
    vy: float
    expires: int
    rewind: int = 0  # hits are judged against the ships as they were this many ticks ago


@dataclass(slots=True)
class ArenaState:
    rng: random.Random
    ships: list[Ship]
    time_limit_ticks: int
    score_limit: int
    tick_rate: int
    tick: int = 0
    bullets: list[Bullet] = field(default_factory=list)
    next_bullet: int = 1
    finished: bool = False
    reason: str = ""
    # Ship positions after each of the last ticks, newest last: [x, y, alive (1.0 or
    # 0.0)] per seat, flat. What lag-compensated shots are judged against.
    trail: list[list[float]] = field(default_factory=list)
    # The `rules` setting (see RULES). 1 when missing: a checkpoint or a match recorded
    # before the setting existed goes on, and replays, as it was played.
    rules: int = 1


class Arena(Game[ArenaState]):
    key = "arena"
    title = "Arena"
    description = "Fly, aim and shoot in a real-time arena for 2 to 8 players."
    state_class = ArenaState
    compact: ClassVar[CompactStates | None] = arena_wire
    Input = ArenaInput
    min_players = 2
    max_players = 8
    tick_rate = 20
    # "3, 2, 1, GO": every ship starts at once (the runner holds the first ticks).
    countdown_seconds = 3.0

    def defaults(self) -> JSON:
        return {
            "time_limit_seconds": 120,
            "score_limit": 10,
            "tick_rate": self.tick_rate,
            "rules": RULES,
        }

    def setting_ranges(self) -> dict[str, tuple[int, int]]:
        return {
            "time_limit_seconds": (5, 900),
            "score_limit": (1, 100),
            "tick_rate": (5, 60),
            "rules": (1, RULES),
        }

    def initial_state(self, settings: JSON, seats: int, seed: int) -> ArenaState:
        rng = random.Random(seed)
        rate = int(settings["tick_rate"])
        ships = [Ship(seat, *_spawn_point(seat, seats)) for seat in range(seats)]
        for ship in ships:
            ship.aim = math.atan2(HEIGHT / 2 - ship.y, WIDTH / 2 - ship.x)
        return ArenaState(
            rng=rng,
            ships=ships,
            time_limit_ticks=int(settings["time_limit_seconds"]) * rate,
            score_limit=int(settings["score_limit"]),
            tick_rate=rate,
            rules=int(settings.get("rules", 1)),  # missing in matches stored before it
        )

    def apply_input(self, state: ArenaState, seat: int, data: ArenaInput) -> list[Event]:
        ship = state.ships[seat]
        if state.finished or ship.removed:
            raise IllegalInput("The game is over for this ship.", code="game_over")
        if data.seq <= ship.last_seq:
            raise IllegalInput("Input sequence numbers must increase.", code="stale_input")
        ship.last_seq = data.seq
        ship.fed_tick = state.tick + 1
        aim = ship.aim if data.aim is None else data.aim
        ship.controls = Controls(  # move_x, move_y, aim, fire, rewind, ticks
            data.mx,
            data.my,
            aim % math.tau,
            data.fire,
            _rewind_ticks(data.lag, state.tick_rate) if data.lag else 0,
            data.ticks,
        )
        return []

    def merge_inputs(self, older: ArenaInput, newer: ArenaInput) -> ArenaInput:
        """Two inputs as one tick's: the movement of both, fire if either fired, the newer
        aim, sequence number and lag. Inputs of ticks of movement keep every tick of it
        (their per-tick movements averaged over the ticks of both, moved in one tick: no
        movement is lost); held controls are summed within the schema's bounds."""
        aim = older.aim if newer.aim is None else newer.aim
        fire = older.fire or newer.fire
        if older.ticks and newer.ticks:
            ticks = older.ticks + newer.ticks
            (ax, ay), (bx, by) = _per_tick(older), _per_tick(newer)
            mx = (ax * older.ticks + bx * newer.ticks) / ticks
            my = (ay * older.ticks + by * newer.ticks) / ticks
            return ArenaInput(
                seq=newer.seq,
                mx=_clamp(mx, -1.0, 1.0),
                my=_clamp(my, -1.0, 1.0),
                aim=aim,
                fire=fire,
                lag=newer.lag,
                ticks=min(ticks, MAX_INPUT_TICKS),
            )
        return ArenaInput(
            seq=newer.seq,
            mx=_clamp(older.mx + newer.mx, -1.0, 1.0),
            my=_clamp(older.my + newer.my, -1.0, 1.0),
            aim=aim,
            fire=fire,
            lag=newer.lag,
            ticks=newer.ticks,
        )

    def clamp_input(self, data: ArenaInput, max_lag_ms: int) -> ArenaInput:
        """A claimed lag over the server's bound counts as the bound; a client's input is
        one tick of movement at most (more would be a faster ship)."""
        if data.lag > max_lag_ms:
            data = msgspec.structs.replace(data, lag=max(0, max_lag_ms))
        if data.ticks > 1:
            data = msgspec.structs.replace(data, ticks=1)
        return data

    def tick(self, state: ArenaState) -> list[Event]:
        if state.finished:
            return []
        state.tick += 1
        events: list[Event] = []
        dt = 1.0 / state.tick_rate
        for ship in state.ships:
            if ship.removed:
                continue
            if ship.respawn_at is not None:
                if state.tick < ship.respawn_at:
                    continue
                self._respawn(state, ship, events)
            self._move_ship(ship, state.tick, dt)
            self._maybe_fire(state, ship)
        _record_trail(state)
        self._move_bullets(state, dt, events)
        self._check_end(state)
        return events

    def _respawn(self, state: ArenaState, ship: Ship, events: list[Event]) -> None:
        ship.x = state.rng.uniform(_MIN_X, _MAX_X)
        ship.y = state.rng.uniform(_MIN_Y, _MAX_Y)
        ship.hp, ship.respawn_at = MAX_HP, None
        events.append(Event("respawn", {"seat": ship.seat}))

    def _move_ship(self, ship: Ship, tick: int, dt: float) -> None:
        c = ship.controls
        ship.aim = c.aim
        steps = c.ticks
        if steps:
            if ship.fed_tick != tick:
                return  # ticks of movement, and none arrived for this tick: nothing to move
        else:
            steps = 1
        mx, my = c.move_x, c.move_y
        if not (mx or my):
            return  # a ship is always inside the walls: standing still moves it nowhere
        length = math.hypot(mx, my)
        if length > 1.0:  # diagonal keys must not move faster than straight ones
            mx, my = mx / length, my / length
        # The same arithmetic as x + mx * SHIP_SPEED * dt a step, clamped to the walls
        # written out (this runs for every ship every tick): the same floats, so every
        # recorded match replays as it was played.
        step_x, step_y = mx * SHIP_SPEED * dt, my * SHIP_SPEED * dt
        x, y = ship.x, ship.y
        for _ in range(steps):  # one step per tick of movement, each stopped by the walls
            x += step_x
            x = _MIN_X if x < _MIN_X else _MAX_X if x > _MAX_X else x
            y += step_y
            y = _MIN_Y if y < _MIN_Y else _MAX_Y if y > _MAX_Y else y
        ship.x, ship.y = x, y

    def _maybe_fire(self, state: ArenaState, ship: Ship) -> None:
        c = ship.controls
        if not c.fire or state.tick < ship.cooldown_until:
            return
        if _unfed(ship, state.tick) and state.rules >= 2:
            return  # like its movement: a trigger sent for one tick is not held past it
        ship.cooldown_until = state.tick + FIRE_COOLDOWN_TICKS
        dx, dy = math.cos(ship.aim), math.sin(ship.aim)
        state.bullets.append(
            Bullet(
                id=state.next_bullet,
                owner=ship.seat,
                x=ship.x + dx * (SHIP_RADIUS + 2),
                y=ship.y + dy * (SHIP_RADIUS + 2),
                vx=dx * BULLET_SPEED,
                vy=dy * BULLET_SPEED,
                expires=state.tick + BULLET_TICKS,
                rewind=ship.controls.rewind,
            )
        )
        state.next_bullet += 1

    def _move_bullets(self, state: ArenaState, dt: float, events: list[Event]) -> None:
        remaining = []
        tick = state.tick
        # The ships a bullet may hit, with where it is judged to meet them, gathered
        # once a tick for each rewind in flight instead of read once a bullet and ship
        # (a kill changes them: then again).
        targets: dict[int, list[_Target]] = {}
        for bullet in state.bullets:
            x = bullet.x = bullet.x + bullet.vx * dt
            y = bullet.y = bullet.y + bullet.vy * dt
            if tick >= bullet.expires or not (0.0 <= x <= WIDTH and 0.0 <= y <= HEIGHT):
                continue
            judged = targets.get(bullet.rewind)
            if judged is None:
                judged = targets[bullet.rewind] = _targets(state, bullet.rewind)
            target = _ship_hit(bullet, judged)
            if target is None:
                remaining.append(bullet)
            else:
                self._hit(state, state.ships[bullet.owner], target, events)
                if not target.alive:
                    targets.clear()
        state.bullets = remaining

    def _hit(self, state: ArenaState, shooter: Ship, target: Ship, events: list[Event]) -> None:
        target.hp -= 1
        if target.hp > 0:
            events.append(Event("hit", {"seat": target.seat, "by": shooter.seat}))
            return
        shooter.score += 1
        target.respawn_at = state.tick + RESPAWN_TICKS
        events.append(Event("kill", {"seat": target.seat, "by": shooter.seat}))

    def _check_end(self, state: ArenaState) -> None:
        active = [s for s in state.ships if not s.removed]
        if len(active) < 2:
            self._finish(state, "everyone else left")
        elif any(s.score >= state.score_limit for s in state.ships):
            self._finish(state, "score limit reached")
        elif state.tick >= state.time_limit_ticks:
            self._finish(state, "time is up")

    def _finish(self, state: ArenaState, reason: str) -> None:
        state.finished, state.reason = True, reason
        state.bullets = []

    def neutral_input(self, state: ArenaState, seat: int) -> ArenaInput | None:
        """No movement and no fire, the aim kept; it takes the seat's next sequence number."""
        ship = state.ships[seat]
        if state.finished or ship.removed or ship.last_seq >= MAX_SEQ:
            return None
        return ArenaInput(seq=ship.last_seq + 1)

    def restore(self, data: JSON) -> ArenaState:
        # A checkpoint of a release before lag compensation (a rolling deploy adopting
        # it) lacks the trail and the fields below: it continues with their defaults.
        state = data["state"]
        state.setdefault("trail", [])
        state.setdefault("rules", 1)
        for ship in state["ships"]:
            ship.setdefault("fed_tick", 0)
            ship["controls"].setdefault("rewind", 0)
            ship["controls"].setdefault("ticks", 0)
        for bullet in state["bullets"]:
            bullet.setdefault("rewind", 0)
        return super().restore(data)

    def bot(self, level: str, seat: int, seed: int, settings: JSON) -> ArenaBot:
        from games.engine import arena_bot  # it builds on this module

        return arena_bot.make(level, seat, seed, int(settings["tick_rate"]))

    def remove_seat(self, state: ArenaState, seat: int) -> list[Event]:
        ship = state.ships[seat]
        if ship.removed or state.finished:
            return []
        ship.removed = True
        state.bullets = [b for b in state.bullets if b.owner != seat]
        self._check_end(state)
        return [Event("removed", {"seat": seat})]

    def outcome(self, state: ArenaState) -> Outcome | None:
        if not state.finished:
            return None
        # Ships still in play rank by score (ties share a place); removed ships rank last.
        playing = sorted((s for s in state.ships if not s.removed), key=lambda s: -s.score)
        ranks: dict[int, int] = {}
        for index, ship in enumerate(playing):
            same_as_previous = index and ship.score == playing[index - 1].score
            ranks[ship.seat] = ranks[playing[index - 1].seat] if same_as_previous else index + 1
        last = len(playing) + 1
        top = [s for s in playing if ranks[s.seat] == 1]
        everyone_tied = len(playing) > 1 and len(top) == len(playing)
        seats = []
        for ship in state.ships:
            rank = ranks.get(ship.seat, last)
            if ship.removed:
                result = "loss"
            elif everyone_tied:
                result = "draw"
            else:
                result = "win" if rank == 1 else "loss"
            seats.append(SeatOutcome(ship.seat, result, ship.score, rank))  # type: ignore[arg-type]
        summary = (
            f"Draw: {state.reason}."
            if everyone_tied
            else f"{' and '.join(f'Player {s.seat + 1}' for s in top)} won: {state.reason}."
        )
        return Outcome(tuple(seats), summary)

    def view(self, state: ArenaState, seat: int | None) -> JSON:
        # No hidden information: one view serves every seat and spectator, and
        # carries every seat's last applied input sequence for reconciliation.
        # Tenths as round(v * 10) / 10, not round(v, 1): the same numbers but for
        # the odd tie, at a third of the cost (with digits, round() goes through
        # the decimal digits of the float); the view makes about 60 of them a tick.
        return {
            "tick": state.tick,
            "ticks_left": max(0, state.time_limit_ticks - state.tick),
            "ships": [
                {
                    "seat": s.seat,
                    "x": round(s.x * 10) / 10,
                    "y": round(s.y * 10) / 10,
                    "aim": round(s.aim * 1000) / 1000,
                    "hp": s.hp,
                    "score": s.score,
                    "alive": s.respawn_at is None and not s.removed,  # Ship.alive, inlined
                    "removed": s.removed,
                    "ack": s.last_seq,
                    # No new input of this seat at this tick: its last controls held.
                    "repeated": state.tick > 0 and s.fed_tick != state.tick,
                }
                for s in state.ships
            ],
            "bullets": [
                [
                    b.id,
                    round(b.x * 10) / 10,
                    round(b.y * 10) / 10,
                    round(b.vx * 10) / 10,
                    round(b.vy * 10) / 10,
                ]
                for b in state.bullets
            ],
            "finished": state.finished,
        }

    def current_tick(self, state: ArenaState) -> int:
        return state.tick


def _spawn_point(seat: int, seats: int) -> tuple[float, float]:
    """Ships start evenly spaced on an ellipse around the centre, facing inwards."""
    angle = math.tau * seat / seats + math.pi
    return WIDTH / 2 + math.cos(angle) * WIDTH * 0.38, HEIGHT / 2 + math.sin(angle) * HEIGHT * 0.38


# A ship a bullet may hit: the ship, its seat, and where the hit is judged (x, y).
_Target = tuple[Ship, int, float, float]


def _targets(state: ArenaState, rewind: int) -> list[_Target]:
    """The ships alive now, each where a bullet of `rewind` ticks back judges them: where
    they were then, from the trail (and alive then too: a ship that has just respawned
    cannot be hit where it died, nor a dead one where it flew), or where they are."""
    # Ship.alive written out, here and in the view: they run every tick, and the
    # property's call costs more than the test itself.
    alive = [ship for ship in state.ships if ship.respawn_at is None and not ship.removed]
    if not rewind:
        return [(ship, ship.seat, ship.x, ship.y) for ship in alive]
    past = state.trail[max(0, len(state.trail) - 1 - rewind)]
    return [
        (ship, ship.seat, past[3 * ship.seat], past[3 * ship.seat + 1])
        for ship in alive
        if past[3 * ship.seat + 2]
    ]


def _ship_hit(bullet: Bullet, targets: list[_Target]) -> Ship | None:
    """The first of `targets` (see `_targets`) but the bullet's owner that it hits.

    The distance is at least each of |dx| and |dy| (also as math.hypot rounds it):
    most ships are ruled out by comparing dx, then dy, with the same answers.
    """
    owner, bx, by = bullet.owner, bullet.x, bullet.y
    for ship, seat, x, y in targets:
        if seat == owner:
            continue
        dx = x - bx
        if dx < -SHIP_RADIUS or dx > SHIP_RADIUS:
            continue
        dy = y - by
        if -SHIP_RADIUS <= dy <= SHIP_RADIUS and math.hypot(dx, dy) <= SHIP_RADIUS:
            return ship
    return None


def _record_trail(state: ArenaState) -> None:
    """Where the ships are after this tick's moves, kept REWIND_LIMIT_MS back."""
    row: list[float] = []
    for s in state.ships:  # (every tick: a plain loop, not the `alive` property)
        row += (s.x, s.y, 0.0 if s.removed or s.respawn_at is not None else 1.0)
    trail = state.trail
    trail.append(row)
    if len(trail) > _trail_ticks(state.tick_rate) + 1:
        del trail[0]


def _rewind_ticks(lag_ms: int, tick_rate: int) -> int:
    """The ticks a shot of a sender `lag_ms` behind is judged back, within the trail."""
    return min(round(lag_ms * tick_rate / 1000), _trail_ticks(tick_rate))


def _trail_ticks(tick_rate: int) -> int:
    """How many ticks back a shot may be judged: REWIND_LIMIT_MS, rounded down."""
    return REWIND_LIMIT_MS * tick_rate // 1000


def _per_tick(data: ArenaInput) -> tuple[float, float]:
    """An input's movement in one tick as the engine moves it (a diagonal normalised)."""
    length = math.hypot(data.mx, data.my)
    return (data.mx / length, data.my / length) if length > 1.0 else (data.mx, data.my)


def _unfed(ship: Ship, tick: int) -> bool:
    """Whether the ship takes inputs of ticks of movement and none was applied for `tick`:
    it then neither moves nor fires."""
    return bool(ship.controls.ticks) and ship.fed_tick != tick


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
