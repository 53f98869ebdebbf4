"""The arena's compact state frames: a fixed struct layout, full or as a delta.

Sent to sockets of the `arcade.v1.compact` subprotocol (docs/protocol.md has
the byte layout). A full frame describes the whole view. A delta frame is
relative to an earlier state the client acknowledged (its *base*): ships carry
only the fields that changed, bullets only appear when fired and disappear by
id, because a bullet flies in a straight line the client can compute.

Quantized as the JSON view is rounded: positions to 0.1 unit, aim to 0.001 rad
(normalised to -pi..pi), bullet velocities to 0.1 unit/s.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field, replace
from typing import Any

JSON = dict[str, Any]

FULL, DELTA = 1, 2
MAX_DELTA_AGE = 255  # ticks between base and state that fit the header's age byte

_HEADER_FULL = struct.Struct("<BIHBB")  # kind, tick, ticks_left, flags, ships
_HEADER_DELTA = struct.Struct("<BIBBB")  # kind, tick, age, flags, changed ships
_SHIP_FULL = struct.Struct("<BhhhBHBI")  # seat, x, y, aim, hp, score, status, ack
_BULLET = struct.Struct("<Ihhhh")  # id, x, y, vx, vy
_EVENT = struct.Struct("<BBB")  # kind, a, b
_COUNT8 = struct.Struct("<B")
_COUNT16 = struct.Struct("<H")

# Changed-field bits of a delta ship record, in the order their values follow.
X, Y, AIM, HP, SCORE, STATUS, ACK_STEP, ACK = (1 << n for n in range(8))
_FIELDS = ((X, "<h"), (Y, "<h"), (AIM, "<h"), (HP, "<B"), (SCORE, "<H"), (STATUS, "<B"))
# Bytes of each changed field in a delta ship record, in bit order (x ... the ack), for
# readers of frames that skip what they do not need (the load generators).
DELTA_FIELD_SIZES = (*(struct.calcsize(fmt) for _, fmt in _FIELDS), 1, 4)
HEADER_FULL_SIZE, SHIP_FULL_SIZE, HEADER_DELTA_SIZE = (
    _HEADER_FULL.size,
    _SHIP_FULL.size,
    _HEADER_DELTA.size,
)
SHIP_FULL_ACK_OFFSET = SHIP_FULL_SIZE - 4  # the ack is a full record's last field, a u32
ALIVE, REMOVED, REPEATED = 1, 2, 4  # bits of the status byte
NONE = 255  # an event's missing second value

# Event kinds and the names of their two values.
EVENTS: dict[int, tuple[str, str, str | None]] = {
    1: ("hit", "seat", "by"),
    2: ("kill", "seat", "by"),
    3: ("respawn", "seat", None),
    4: ("removed", "seat", None),
    5: ("started", "seats", None),
}
_EVENT_CODES = {name: code for code, (name, _, _) in EVENTS.items()}


# Not frozen: a frozen dataclass is built three times slower (every field through
# object.__setattr__), and a server builds 18 of these per match and tick. Nothing
# changes one once it is made; decoding makes new ones (dataclasses.replace).
@dataclass(slots=True)
class Ship:
    seat: int
    x: int  # tenths of a unit
    y: int
    aim: int  # milliradians, -3142..3142
    hp: int
    score: int
    status: int
    ack: int


@dataclass(slots=True)
class Bullet:
    id: int
    x: int  # tenths of a unit, where it was at `tick`
    y: int
    vx: int  # tenths of a unit per second
    vy: int
    tick: int  # the state this record describes it at


@dataclass
class Snapshot:
    """A state as both ends of a compact socket know it: what deltas are taken against."""

    tick: int
    ticks_left: int
    finished: bool
    ships: tuple[Ship, ...]
    bullets: dict[int, Bullet] = field(default_factory=dict)


def snapshot(view: JSON) -> Snapshot:
    """The quantized form of an arena view (Arena.view)."""
    tick = int(view["tick"])
    remainder, tau = math.remainder, math.tau
    return Snapshot(
        tick=tick,
        ticks_left=int(view["ticks_left"]),
        finished=bool(view["finished"]),
        ships=tuple(
            [
                Ship(
                    s["seat"],
                    round(s["x"] * 10),
                    round(s["y"] * 10),
                    round(remainder(s["aim"], tau) * 1000),
                    s["hp"],
                    s["score"],
                    (ALIVE if s["alive"] else 0)
                    | (REMOVED if s["removed"] else 0)
                    | (REPEATED if s["repeated"] else 0),
                    s["ack"],
                )
                for s in view["ships"]
            ]
        ),
        bullets={
            b[0]: Bullet(
                b[0], round(b[1] * 10), round(b[2] * 10), round(b[3] * 10), round(b[4] * 10), tick
            )
            for b in view["bullets"]
        },
    )


def encode(state: Snapshot, events: list[JSON], base: Snapshot | None = None) -> bytes:
    """A full frame of `state`, or with `base` a delta frame from it."""
    if base is None:
        return _encode_full(state, events)
    if not 0 < state.tick - base.tick <= MAX_DELTA_AGE or len(base.ships) != len(state.ships):
        raise ValueError("that base cannot carry a delta to this state")
    return _encode_delta(state, events, base)


def _encode_full(state: Snapshot, events: list[JSON]) -> bytes:
    parts = [
        _HEADER_FULL.pack(FULL, state.tick, state.ticks_left, int(state.finished), len(state.ships))
    ]
    for s in state.ships:
        parts.append(_SHIP_FULL.pack(s.seat, s.x, s.y, s.aim, s.hp, s.score, s.status, s.ack))
    parts.append(_encode_events(events))
    parts.append(_COUNT16.pack(len(state.bullets)))
    parts += [_BULLET.pack(b.id, b.x, b.y, b.vx, b.vy) for b in state.bullets.values()]
    return b"".join(parts)


def _encode_delta(state: Snapshot, events: list[JSON], base: Snapshot) -> bytes:
    ships = []
    for old, new in zip(base.ships, state.ships, strict=True):
        record = _ship_changes(old, new)
        if record:
            ships.append(record)
    added = [b for i, b in state.bullets.items() if i not in base.bullets]
    removed = [i for i in base.bullets if i not in state.bullets]
    age = state.tick - base.tick
    return b"".join(
        [
            _HEADER_DELTA.pack(DELTA, state.tick, age, int(state.finished), len(ships)),
            *ships,
            _encode_events(events),
            _COUNT8.pack(len(added)),
            *(_BULLET.pack(b.id, b.x, b.y, b.vx, b.vy) for b in added),
            _COUNT8.pack(len(removed)),
            *(struct.pack("<I", i) for i in removed),
        ]
    )


def _ship_changes(old: Ship, new: Ship) -> bytes:
    # Field by field, in the record's order (_FIELDS), written out: this runs for
    # every ship of every delta of every tick.
    mask, values = 0, []
    if old.x != new.x:
        mask |= X
        values.append(_INT16.pack(new.x))
    if old.y != new.y:
        mask |= Y
        values.append(_INT16.pack(new.y))
    if old.aim != new.aim:
        mask |= AIM
        values.append(_INT16.pack(new.aim))
    if old.hp != new.hp:
        mask |= HP
        values.append(_COUNT8.pack(new.hp))
    if old.score != new.score:
        mask |= SCORE
        values.append(_COUNT16.pack(new.score))
    if old.status != new.status:
        mask |= STATUS
        values.append(_COUNT8.pack(new.status))
    step = new.ack - old.ack
    if step:
        # Inputs arrive at the tick rate, so the acknowledgement usually moves by a little.
        if 0 < step < 256:
            mask |= ACK_STEP
            values.append(_COUNT8.pack(step))
        else:
            mask |= ACK
            values.append(_ACK.pack(new.ack))
    if not mask:
        return b""
    return _SHIP_DELTA.pack(new.seat, mask) + b"".join(values)


_FIELD_NAMES = {X: "x", Y: "y", AIM: "aim", HP: "hp", SCORE: "score", STATUS: "status"}
_INT16 = struct.Struct("<h")
_SHIP_DELTA = struct.Struct("<BB")  # seat, changed-field bits
_ACK = struct.Struct("<I")


def _encode_events(events: list[JSON]) -> bytes:
    parts = [_COUNT8.pack(len(events))]
    for event in events:
        code = _EVENT_CODES[event["kind"]]
        _, first, second = EVENTS[code]
        b = event[second] if second else NONE
        parts.append(_EVENT.pack(code, event[first], b))
    return b"".join(parts)


# --- Decoding: what a client does (the browser's decoder mirrors this) -----------------


def decode(frame: bytes, base: Snapshot | None, tick_rate: int) -> tuple[Snapshot, list[JSON]]:
    """The state and events a frame describes; a delta needs the base it was taken against."""
    if frame[0] == FULL:
        return _decode_full(frame)
    if base is None:
        raise ValueError("a delta frame needs its base state")
    return _decode_delta(frame, base, tick_rate)


def _decode_full(frame: bytes) -> tuple[Snapshot, list[JSON]]:
    _, tick, ticks_left, flags, count = _HEADER_FULL.unpack_from(frame, 0)
    at = _HEADER_FULL.size
    ships = []
    for _ in range(count):
        ships.append(Ship(*_SHIP_FULL.unpack_from(frame, at)))
        at += _SHIP_FULL.size
    events, at = _decode_events(frame, at)
    (bullets,) = _COUNT16.unpack_from(frame, at)
    at += _COUNT16.size
    flying = {}
    for _ in range(bullets):
        bullet = _bullet(frame, at, tick)
        flying[bullet.id] = bullet
        at += _BULLET.size
    return Snapshot(tick, ticks_left, bool(flags & 1), tuple(ships), flying), events


def _decode_delta(frame: bytes, base: Snapshot, tick_rate: int) -> tuple[Snapshot, list[JSON]]:
    _, tick, age, flags, count = _HEADER_DELTA.unpack_from(frame, 0)
    if base.tick != tick - age:
        raise ValueError(f"this delta is against tick {tick - age}, not {base.tick}")
    at = _HEADER_DELTA.size
    ships = {s.seat: s for s in base.ships}
    for _ in range(count):
        seat, mask = struct.unpack_from("<BB", frame, at)
        at += 2
        changes: dict[str, int] = {}
        for bit, fmt in _FIELDS:
            if mask & bit:
                (changes[_FIELD_NAMES[bit]],) = struct.unpack_from(fmt, frame, at)
                at += struct.calcsize(fmt)
        if mask & ACK_STEP:
            changes["ack"] = ships[seat].ack + frame[at]
            at += 1
        elif mask & ACK:
            (changes["ack"],) = struct.unpack_from("<I", frame, at)
            at += 4
        ships[seat] = replace(ships[seat], **changes)
    events, at = _decode_events(frame, at)
    bullets = dict(base.bullets)
    added = frame[at]
    at += 1
    for _ in range(added):
        bullet = _bullet(frame, at, tick)
        bullets[bullet.id] = bullet
        at += _BULLET.size
    removed = frame[at]
    at += 1
    for _ in range(removed):
        bullets.pop(struct.unpack_from("<I", frame, at)[0], None)
        at += 4
    state = Snapshot(
        tick=tick,
        ticks_left=max(0, base.ticks_left - age) if base.ticks_left else 0,
        finished=bool(flags & 1),
        ships=tuple(ships[s.seat] for s in base.ships),
        bullets=bullets,
    )
    return state, events


def _bullet(frame: bytes, at: int, tick: int) -> Bullet:
    id_, x, y, vx, vy = _BULLET.unpack_from(frame, at)
    return Bullet(id_, x, y, vx, vy, tick)


def _decode_events(frame: bytes, at: int) -> tuple[list[JSON], int]:
    count = frame[at]
    at += 1
    events = []
    for _ in range(count):
        code, a, b = _EVENT.unpack_from(frame, at)
        at += _EVENT.size
        name, first, second = EVENTS[code]
        event: JSON = {"kind": name, first: a}
        if second:
            event[second] = b
        events.append(event)
    return events, at


def view(state: Snapshot, tick_rate: int) -> JSON:
    """The JSON view (as Arena.view gives it) that a decoded snapshot stands for."""
    return {
        "tick": state.tick,
        "ticks_left": state.ticks_left,
        "ships": [
            {
                "seat": s.seat,
                "x": s.x / 10,
                "y": s.y / 10,
                "aim": s.aim / 1000,
                "hp": s.hp,
                "score": s.score,
                "alive": bool(s.status & ALIVE),
                "removed": bool(s.status & REMOVED),
                "ack": s.ack,
                "repeated": bool(s.status & REPEATED),
            }
            for s in state.ships
        ],
        "bullets": [_bullet_now(b, state.tick, tick_rate) for b in state.bullets.values()],
        "finished": state.finished,
    }


def _bullet_now(bullet: Bullet, tick: int, tick_rate: int) -> list[float]:
    """Where a bullet is at `tick`: it flies straight from where its record put it."""
    seconds = (tick - bullet.tick) / tick_rate
    x = bullet.x / 10 + bullet.vx / 10 * seconds
    y = bullet.y / 10 + bullet.vy / 10 * seconds
    return [bullet.id, round(x, 1), round(y, 1), bullet.vx / 10, bullet.vy / 10]
