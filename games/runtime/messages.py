"""Channel names, group names and pub/sub topics, in one place.

The announcements services make after commit are in `games.services.announce`;
the queue's own announcements to lobby sockets are in `games.matchmaking.matcher`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def match_group(match_id: Any) -> str:
    """Every socket of a match (players and spectators) is in this group."""
    return f"match.{_hex(match_id)}"


LOBBY_GROUP = "lobby"


def player_group(player_id: int) -> str:
    """A player's lobby sockets, for messages meant for that player only."""
    return f"player.{player_id}"


def player_sockets_group(player_id: int) -> str:
    """Every socket of a player, lobby and match: for what concerns them wherever they are.

    (A ban closes them all.) Apart from `player_group`, whose queue news only a
    lobby socket understands.
    """
    return f"player-sockets.{player_id}"


# The channel-layer event that closes a banned player's sockets (4003, with its reason).
PLAYER_BANNED = "player.banned"

# The event that closes a player's sockets of one match, whose id it names (4005, with
# the reason): an operator removed them from it.
PLAYER_KICKED = "player.kicked"

# An operator's message (a `notice` frame, in "text"), for every socket that receives it:
# sent to the lobby group and to match groups.
OPERATOR_NOTICE = "operator.notice"


def runner_channel(match_id: Any) -> str:
    """The channel the runner of a match listens on, whichever process runs it."""
    return f"match-runner.{_hex(match_id)}"


def process_topic(process: str) -> str:
    """The pub/sub topic on which a process takes runners' states for its sockets.

    `process` is what all channel names of that process share (see fanout.py).
    Pub/sub topics span every Redis database, hence the server's key prefix.
    """
    return f"{settings.REDIS_PREFIX}.fanout.{process}"


def runner_topic(match_id: Any) -> str:
    """The pub/sub topic on which the runner of a match takes batches of inputs."""
    return f"{settings.REDIS_PREFIX}.inputs.{_hex(match_id)}"


def _hex(match_id: Any) -> str:
    return str(match_id).replace("-", "")
