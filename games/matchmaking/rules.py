"""What a queue entry is, how players are grouped by rating, and the words for a lost place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from django.conf import settings

from games.engine import get_game

# Bounds on one "take": how many of the oldest players anchor a search, and how many
# groups one call returns. They keep a script short even with a long queue.
ANCHORS_PER_TAKE = 500

GROUPS_PER_TAKE = 50


class Renewal(IntEnum):
    """What `renew` found of one socket's entry."""

    LAPSED = 0  # gone, with no match: expired (its process stalled) or removed
    QUEUED = 1  # still queued, now renewed (or put back: its matcher died)
    MATCHING = 2  # taken into a group; its match is being created
    FINISHED = 3  # matched or refused: the socket hears which over the channel layer
    REPLACED = 4  # the player queued again from another socket


# What a socket whose entry is gone without a word to it is told, by why it is gone.
LOST_PLACE_REASONS = {
    Renewal.LAPSED: "Your place in the queue lapsed; press Play now again.",
    Renewal.REPLACED: "You queued from another window.",
}


@dataclass(frozen=True)
class Entry:
    """One queued player: from which lobby socket (`token`), with which rating, since when."""

    player_id: int
    game: str
    token: str
    rating: float
    queued_at: float  # wall-clock seconds: processes on different hosts compare them


@dataclass(frozen=True)
class GroupRules:
    """How groups of one game are formed."""

    min_size: int
    max_size: int
    window_base: float
    window_growth: float  # per second waited
    window_max: float
    fill_seconds: float

    def window(self, waited: float) -> float:
        """Largest rating difference from a player who has waited `waited` seconds."""
        return min(self.window_base + self.window_growth * max(waited, 0.0), self.window_max)


def rules_for(game: str) -> GroupRules:
    rules = get_game(game)
    return GroupRules(
        min_size=rules.min_players,
        max_size=rules.max_players,
        window_base=settings.MATCHMAKING_WINDOW_BASE,
        window_growth=settings.MATCHMAKING_WINDOW_GROWTH,
        window_max=settings.MATCHMAKING_WINDOW_MAX,
        fill_seconds=settings.MATCHMAKING_FILL_SECONDS,
    )
