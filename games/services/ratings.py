"""Skill ratings with openskill's Plackett-Luce model (works for 2 to 8 players).

Pure functions over (mu, sigma) pairs, so services can compute new ratings
before they write anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from openskill.models import PlackettLuce

_MODEL = PlackettLuce()


@dataclass(frozen=True)
class Rating:
    mu: float
    sigma: float

    @property
    def ordinal(self) -> float:
        """The conservative skill estimate shown to players: mu - 3 sigma."""
        return self.mu - 3.0 * self.sigma


def rate(ratings: Sequence[Rating], ranks: Sequence[int]) -> list[Rating]:
    """New ratings after one match; `ranks[i]` is player i's placement, 1 best, ties equal."""
    if len(ratings) != len(ranks):
        raise ValueError("ratings and ranks must have the same length")
    teams = [[_MODEL.rating(mu=r.mu, sigma=r.sigma)] for r in ratings]
    rated = _MODEL.rate(teams, ranks=[float(rank) for rank in ranks])
    return [Rating(team[0].mu, team[0].sigma) for team in rated]


# What people see instead of the ordinal (which starts at 0 and goes below it after a
# loss or two): a familiar scale where everyone starts at 1500, each point of
# ordinal is worth 25, and nobody goes below 0. A display only: the stored fields,
# the leaderboard's order and matchmaking all keep the openskill values. The match
# page computes the same from the result frame's ordinals (frontend render.js).
DISPLAY_START = 1500
DISPLAY_PER_POINT = 25


def display_rating(ordinal: float) -> int:
    """The rating shown to people for an openskill ordinal (mu - 3 sigma): 1500 to start."""
    # Halves round up, as JavaScript's Math.round does (Python's round() would go to even).
    return max(0, math.floor(DISPLAY_START + DISPLAY_PER_POINT * ordinal + 0.5))
