"""The benchmark's players, matches and tickets, made through the same code as the lobby's.

Runs Django in the benchmark's own process, configured exactly like the
servers (same DATABASE_URL, REDIS_URL and prefixes), so players and matches
are written by games.services and tickets are minted by games.cluster.tickets into
the Redis the servers redeem them from, as the ticket view does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GAME = "arena"
SEATS = 8
# Long enough that no match ends within a load step, whatever the scores.
SETTINGS = {"time_limit_seconds": 900, "score_limit": 100}


@dataclass(frozen=True)
class BenchMatch:
    id: str
    user_ids: list[int]  # by seat


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def create_players(count: int) -> list[Any]:
    """Guest players, as the "Play as guest" button makes them."""
    from games import services

    return [services.create_guest() for _ in range(count)]


def create_matches(players: Sequence[Any], seats: int = SEATS) -> list[BenchMatch]:
    """Waiting arena matches of `seats` players each: the first creates, the others join."""
    from games import services

    matches = []
    for first in range(0, len(players), seats):
        group = players[first : first + seats]
        match = services.create_match(group[0], GAME, max_players=len(group), settings=SETTINGS)
        for player in group[1:]:
            services.join_match(player, match.pk)
        matches.append(BenchMatch(str(match.pk), [player.user_id for player in group]))
    return matches


def ticket(user_id: int, match_id: str) -> str:
    """A single-use socket ticket, valid for 30 seconds (games.cluster.tickets)."""
    from games.cluster import tickets

    return tickets.issue(user_id, match_id)


def abort_matches(matches: Sequence[BenchMatch]) -> None:
    """End the step's matches as an operator would, so their runners stop at once."""
    from games import services

    for match in matches:
        with contextlib.suppress(services.ServiceError):  # already over
            services.abort_match(match.id, "the load step is over")
