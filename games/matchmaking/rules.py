"""What a queue entry is, how players are grouped by rating (with each other, or with the
players of an open match), and the words for a lost place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.conf import settings

from games.engine import get_game
from games.engine.base import Game
from games.services.queueing import OpenMatch

# Bounds on one "take": how many of the oldest players anchor a search, and how many
# groups one call returns. They keep a script short even with a long queue.
ANCHORS_PER_TAKE = 500

GROUPS_PER_TAKE = 50

# Bounds on seating queued players in open matches, per game and round: the oldest
# matches waiting for players, and the oldest queued players tried for them.
OPEN_MATCHES_PER_ROUND = 20

QUEUED_PER_FILL = 200

# The level of the bots that fill the match of a player nobody was found for.
BOT_FILL_LEVEL = "normal"


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
    # A player alone in the queue this long gets a match with bots; 0: never.
    bot_fill_seconds: float = 0.0

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
        bot_fill_seconds=settings.MATCHMAKING_BOT_FILL_SECONDS if _has_bots(rules) else 0.0,
    )


def _has_bots(game: Game[Any]) -> bool:
    return game.bot(BOT_FILL_LEVEL, 0, 0, game.settings({})) is not None


def places_in_open_matches(
    matches: Sequence[OpenMatch], waiting: Sequence[Entry], now: float, rules: GroupRules
) -> list[tuple[OpenMatch, list[Entry]]]:
    """Which queued players (`waiting`, oldest first) take free seats in which open match.

    The oldest match first, and for it the players who have waited longest whose
    rating lies within the window of the mean rating of the players seated in it.
    The window is a group's, anchored by whoever waited longer: the player, or the
    match (since it was opened). A player is placed once, never in a match they
    sit in already.
    """
    placed: set[int] = set()
    plan: list[tuple[OpenMatch, list[Entry]]] = []
    for match in matches:
        chosen: list[Entry] = []
        for entry in waiting:
            if len(chosen) == match.free_seats:
                break
            if entry.player_id in placed or entry.player_id in match.seated:
                continue
            waited = now - min(entry.queued_at, match.waiting_since)
            if abs(entry.rating - match.rating) <= rules.window(waited):
                chosen.append(entry)
                placed.add(entry.player_id)
        if chosen:
            plan.append((match, chosen))
    return plan
