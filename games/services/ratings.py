"""Skill ratings with openskill's Plackett-Luce model (works for 2 to 8 players).

Pure functions over (mu, sigma) pairs, so services can compute new ratings
before they write anything.
"""

from __future__ import annotations

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
