"""The arena's computer player: looks every few ticks, aims imperfectly, fires in bursts.

It plays from its seat's view only, as a player would. It looks at the field
once per reaction time (a seeded phase, so bots of one match do not all look at
once) and between looks sends nothing: its controls persist, as a player's do,
so what it does always lags what it saw. At each look it picks the nearest live
ship, aims at it with a seeded error, keeps a distance while strafing, steers
off the walls and, from normal up, away from bullets about to hit it. It fires
in bursts, and only at ships within its range. Levels differ in reaction time,
aim error, range, bursts and dodging. Each look draws from `bots.rng(seed,
seat, tick)`, so a bot keeps no memory and two looks never share randomness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from games.engine import bots
from games.engine.arena import HEIGHT, MAX_SEQ, SHIP_RADIUS, WIDTH, ArenaInput
from games.engine.base import JSON

_KEEP_AWAY = 260.0  # the distance it likes to fight from
_WALL_MARGIN = 110.0
_DANGER = 2.5 * SHIP_RADIUS  # a bullet passing closer than this is dodged
_DANGER_SECONDS = 0.6


@dataclass(frozen=True)
class Skill:
    """What a level changes: seconds between looks, aim error (radians, standard deviation),
    firing range, seconds of fire and of pause in a burst, and whether it dodges bullets."""

    reaction: float
    aim_error: float
    reach: float
    burst: float
    pause: float
    dodges: bool


SKILLS: dict[bots.Level, Skill] = {
    "easy": Skill(0.5, 0.30, 450.0, 0.4, 1.2, dodges=False),
    "normal": Skill(0.3, 0.14, 650.0, 0.6, 0.8, dodges=True),
    "hard": Skill(0.15, 0.05, 850.0, 0.8, 0.5, dodges=True),
}


@dataclass(frozen=True)
class ArenaBot:
    """A computer player for one ship; it keeps no memory between ticks (see `bots`)."""

    level: bots.Level
    seat: int
    seed: int
    tick_rate: int

    def decide(self, view: JSON, tick: int) -> ArenaInput | None:
        """New controls at each look of a live ship; None between looks (the controls hold)."""
        skill = SKILLS[self.level]
        every = max(1, round(skill.reaction * self.tick_rate))
        phase = bots.rng(self.seed, self.seat, "phase").randrange(every)
        ship = view["ships"][self.seat]
        if view["finished"] or not ship["alive"] or tick % every != phase:
            return None
        # The tick numbers its inputs: they increase even if one is not applied yet
        # when the next is decided (an input buffer holding it for a tick, say).
        seq = max(ship["ack"], tick) + 1
        if seq > MAX_SEQ:
            return None
        return self._look(view, ship, skill, tick, seq)

    def _look(self, view: JSON, ship: JSON, skill: Skill, tick: int, seq: int) -> ArenaInput:
        rng = bots.rng(self.seed, self.seat, tick)
        x, y = ship["x"], ship["y"]
        target = _nearest(view["ships"], ship)
        if target is None:  # nobody to fight: drift to the centre
            mx, my = _unit(WIDTH / 2 - x, HEIGHT / 2 - y, scale=0.5)
            return ArenaInput(seq=seq, mx=mx, my=my)
        dx, dy = target["x"] - x, target["y"] - y
        distance = math.hypot(dx, dy)
        aim = math.remainder(math.atan2(dy, dx) + rng.gauss(0.0, skill.aim_error), math.tau)
        # Strafe one way for two seconds at a time (a seeded side per window, so no memory).
        side = (
            1.0
            if bots.rng(self.seed, self.seat, "side", tick // (2 * self.tick_rate)).random() < 0.5
            else -1.0
        )
        ux, uy = _unit(dx, dy)
        closer = max(-1.0, min(1.0, (distance - _KEEP_AWAY) / _KEEP_AWAY))
        mx = closer * ux - side * 0.8 * uy
        my = closer * uy + side * 0.8 * ux
        wx, wy = _off_walls(x, y)
        mx, my = mx + wx, my + wy
        if skill.dodges:
            bx, by = _away_from_bullets(view["bullets"], x, y)
            mx, my = mx + bx, my + by
        mx, my = _unit(mx, my, scale=min(1.0, math.hypot(mx, my)))
        cycle = max(1, round((skill.burst + skill.pause) * self.tick_rate))
        burst_phase = bots.rng(self.seed, self.seat, "burst").randrange(cycle)
        in_burst = (tick + burst_phase) % cycle < skill.burst * self.tick_rate
        fire = in_burst and distance <= skill.reach
        return ArenaInput(seq=seq, mx=mx, my=my, aim=aim, fire=fire)


def make(level: str, seat: int, seed: int, tick_rate: int) -> ArenaBot:
    """The bot for `seat` at `level` (raises bots.UnknownLevel)."""
    return ArenaBot(bots.check_level(level), seat, seed, tick_rate)


def _nearest(ships: list[JSON], me: JSON) -> JSON | None:
    others = [s for s in ships if s["seat"] != me["seat"] and s["alive"]]
    if not others:
        return None
    return min(others, key=lambda s: (math.hypot(s["x"] - me["x"], s["y"] - me["y"]), s["seat"]))


def _off_walls(x: float, y: float) -> tuple[float, float]:
    """A push away from each wall closer than the margin, stronger the closer it is."""

    def push(position: float, size: float) -> float:
        if position < _WALL_MARGIN:
            return 2.0 * (_WALL_MARGIN - position) / _WALL_MARGIN
        if position > size - _WALL_MARGIN:
            return -2.0 * (position - (size - _WALL_MARGIN)) / _WALL_MARGIN
        return 0.0

    return push(x, WIDTH), push(y, HEIGHT)


def _away_from_bullets(bullets: list[list[Any]], x: float, y: float) -> tuple[float, float]:
    """A push away from where each bullet about to pass too close will be nearest."""
    px = py = 0.0
    for _, bx, by, vx, vy in bullets:
        speed2 = vx * vx + vy * vy
        if speed2 == 0:
            continue
        rx, ry = bx - x, by - y
        when = -(rx * vx + ry * vy) / speed2  # seconds to the closest approach
        if not 0.0 < when < _DANGER_SECONDS:
            continue  # moving away (our own shots too), or still far
        cx, cy = rx + vx * when, ry + vy * when
        if math.hypot(cx, cy) < _DANGER:
            ax, ay = _unit(-cx, -cy) if (cx or cy) else _unit(-vy, vx)
            px, py = px + 1.5 * ax, py + 1.5 * ay
    return px, py


def _unit(dx: float, dy: float, scale: float = 1.0) -> tuple[float, float]:
    length = math.hypot(dx, dy)
    if length == 0:
        return 0.0, 0.0
    return (
        max(-1.0, min(1.0, scale * dx / length)),
        max(-1.0, min(1.0, scale * dy / length)),
    )
