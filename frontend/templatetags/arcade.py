"""Template filters of the site's pages: ratings as people read them, games by their names."""

from __future__ import annotations

import re

from django import template

from games.engine import GAMES
from games.services.ratings import display_rating

register = template.Library()


@register.filter
def rating(ordinal: float | None) -> str:
    """A stored openskill ordinal as the rating shown to people ("1500")."""
    return "" if ordinal is None else str(display_rating(ordinal))


@register.filter
def rating_change(participant: object) -> str:
    """A seat's change of shown rating ("+23", or "-12" with a minus sign), or "" when the
    match was unrated."""
    before = getattr(participant, "rating_before", None)
    after = getattr(participant, "rating_after", None)
    if before is None or after is None:
        return ""
    change = display_rating(after) - display_rating(before)
    return f"+{change}" if change >= 0 else f"\u2212{-change}"


@register.filter
def game_title(key: str) -> str:
    """A game's name for its key ("connect_four" is "Connect Four")."""
    game = GAMES.get(key)
    return game.title if game is not None else key


_SEAT_WORDS = re.compile(r"\b[Pp]layer (\d+)\b")


@register.filter
def with_names(summary: str | None, match: object) -> str:
    """A stored summary with each "Player N" replaced by that seat's player's name."""
    participants = getattr(match, "participants", None)
    seats = participants.all() if participants is not None else []
    names = {p.seat: p.player.display_name for p in seats}
    return _SEAT_WORDS.sub(lambda m: names.get(int(m[1]) - 1, m[0]), summary or "")
