"""Shapes of the JSON lobby API: request bodies (validated by msgspec) and responses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec
from django.db.models import Count, F
from django.urls import reverse

from games import protocol
from games.engine import GAMES
from games.engine.base import Game
from games.models import Match, MatchStatus, Participant, Player
from games.services.ratings import display_rating

if TYPE_CHECKING:  # the rematch's shapes; this module builds JSON, it calls no service
    from games.services.rematch import RematchPlayer, RematchState


class CreateMatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    game: str
    private: bool = False
    max_players: int | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class PlayNowRequest(msgspec.Struct, forbid_unknown_fields=True):
    game: str


class JoinByCodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: str


class PlayComputerRequest(msgspec.Struct, forbid_unknown_fields=True):
    game: str
    level: str = "normal"


class RematchRequest(msgspec.Struct, forbid_unknown_fields=True):
    # yes: ask for (or agree to) the rematch; no: decline it; leave: gone from the result.
    answer: Literal["yes", "no", "leave"] = "yes"


def game_json(game: Game[Any]) -> dict[str, Any]:
    return {
        "key": game.key,
        "title": game.title,
        "description": game.description,
        "min_players": game.min_players,
        "max_players": game.max_players,
        "tick_rate": game.tick_rate,
        "settings": game.defaults(),
    }


def player_json(player: Player) -> dict[str, Any]:
    return {
        "id": player.pk,
        "display_name": player.display_name,
        "is_guest": player.is_guest,
        "is_bot": player.is_bot,
        "rating": round(player.rating_ordinal, 2),
        "display_rating": display_rating(player.rating_ordinal),
        "rating_mu": round(player.rating_mu, 3),
        "rating_sigma": round(player.rating_sigma, 3),
        "matches": player.matches_played,
        "wins": player.wins,
        "losses": player.losses,
        "draws": player.draws,
        "banned": player.is_banned,
    }


def rematch_json(state: RematchState) -> dict[str, Any]:
    """Where a finished match's rematch stands (`GET`/`POST /api/matches/<id>/rematch/`)."""

    def person(p: RematchPlayer) -> dict[str, Any]:
        return {"id": p.player_id, "display_name": p.name}

    url = reverse("match", args=[state.new_match_id]) if state.new_match_id else None
    return {
        "match": state.match_id,
        "status": state.status,
        "wants": [person(p) for p in state.wants],
        "waiting_for": [person(p) for p in state.waiting_for],
        "declined": [
            {"id": d.player_id, "display_name": d.name, "why": d.why} for d in state.declined
        ],
        "rematch": {"id": state.new_match_id, "game": state.game, "url": url} if url else None,
    }


def participant_json(participant: Participant) -> dict[str, Any]:
    return {
        "seat": participant.seat,
        "player": {
            "id": participant.player_id,
            "display_name": participant.player.display_name,
            "is_bot": participant.player.is_bot,
        },
        "score": participant.score,
        "outcome": participant.outcome or None,
        "rank": participant.rank,
        "rating_before": participant.rating_before,
        "rating_after": participant.rating_after,
        "joined_at": participant.joined_at.isoformat(),
        "left_at": participant.left_at.isoformat() if participant.left_at else None,
    }


def match_json(match: Match, *, with_code: bool = False) -> dict[str, Any]:
    """A match with its participants; expects them prefetched (`with_participants()`)."""
    data = {
        "id": str(match.id),
        "game": match.game,
        "status": match.status,
        "private": match.is_private,
        "max_players": match.max_players,
        "settings": match.settings,
        "created_at": match.created_at.isoformat(),
        "started_at": match.started_at.isoformat() if match.started_at else None,
        "finished_at": match.finished_at.isoformat() if match.finished_at else None,
        "result": match.result,
        "participants": [participant_json(p) for p in match.participants.all()],
    }
    if with_code and match.join_code:
        data["join_code"] = match.join_code
    return data


def history_entry_json(participant: Participant) -> dict[str, Any]:
    """One row of a player's history; expects `match` loaded with select_related."""
    match = participant.match
    return {
        "match": {
            "id": str(match.id),
            "game": match.game,
            "status": match.status,
            "created_at": match.created_at.isoformat(),
            "finished_at": match.finished_at.isoformat() if match.finished_at else None,
            "summary": (match.result or {}).get("summary"),
            "rated": (match.result or {}).get("rated", False),
            "with_bots": getattr(participant, "with_bots", False),
        },
        "seat": participant.seat,
        "score": participant.score,
        "outcome": participant.outcome or None,
        "rating_before": participant.rating_before,
        "rating_after": participant.rating_after,
    }


# The lobby shows this many of each game's oldest open public matches, and of its
# public matches in progress, the latest started first (they have the most left to watch).
OPEN_MATCHES_PER_GAME = 10

LIVE_MATCHES_PER_GAME = 10


def lobby_games() -> list[dict[str, Any]]:
    """Every game with its open public matches and those in progress: the lobby snapshot.

    Open means a free seat: a waiting match whose seats are all taken is about to
    start, and "Join" could only be refused. A match in progress carries its
    `started_at`; clients show how long it has run (a count of seconds would make
    every snapshot differ from the last and be sent again).
    """
    games = []
    for key, game in GAMES.items():
        open_matches = (
            Match.objects.open_lobby(key)
            .annotate(seated=Count("participants"))
            .filter(seated__lt=F("max_players"))
            .with_participants()[:OPEN_MATCHES_PER_GAME]
        )
        live = (
            Match.objects.filter(game=key, status=MatchStatus.ACTIVE, is_private=False)
            .order_by("-started_at", "id")
            .with_participants()[:LIVE_MATCHES_PER_GAME]
        )
        games.append(
            {
                **game_json(game),
                "open": [match_json(m) for m in open_matches],
                "live": [match_json(m) for m in live],
            }
        )
    return games


def lobby_json(online: int) -> dict[str, Any]:
    """The lobby as `GET /api/lobby/` answers it: the lobby socket's frame, from its builder."""
    snapshot: dict[str, Any] = msgspec.json.decode(protocol.lobby(lobby_games(), online))
    return snapshot
