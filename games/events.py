"""Channel names and group names, and the queue's two announcements to lobby sockets.

The announcements services make after commit are in `games.services.announce`.
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from games import protocol


def match_group(match_id: Any) -> str:
    """Every socket of a match (players and spectators) is in this group."""
    return f"match.{_hex(match_id)}"


LOBBY_GROUP = "lobby"


def player_group(player_id: int) -> str:
    """A player's lobby sockets, for messages meant for that player only."""
    return f"player.{player_id}"


def runner_channel(match_id: Any) -> str:
    """The channel the runner of a match listens on, whichever process runs it."""
    return f"match-runner.{_hex(match_id)}"


def process_topic(process: str) -> str:
    """The pub/sub topic on which a process takes runners' states for its sockets.

    `process` is what all channel names of that process share (see transport.py).
    Pub/sub topics span every Redis database, hence the server's key prefix.
    """
    return f"{settings.REDIS_PREFIX}.fanout.{process}"


def runner_topic(match_id: Any) -> str:
    """The pub/sub topic on which the runner of a match takes batches of inputs."""
    return f"{settings.REDIS_PREFIX}.inputs.{_hex(match_id)}"


def _hex(match_id: Any) -> str:
    return str(match_id).replace("-", "")


async def announce_unqueued(player_id: int, game: str, reason: str) -> None:
    """Tell a player's lobby sockets that the server took them out of the queue, and why.

    Not tied to a transaction: it reports a refusal (a ban since queueing), not a write.
    """
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(
            player_group(player_id),
            {"type": "matchmaking.unqueued", "text": protocol.unqueued(game, reason)},
        )


async def announce_lost_place(channel: str, game: str, reason: str) -> None:
    """Tell one lobby socket that its player's entry in the queue is gone, and why.

    Only that socket (its channel): the player may be queued from another. Through the
    channel layer even from its own process, so that it arrives after anything sent
    to the socket before it, such as `matched`.
    """
    layer = get_channel_layer()
    if layer is not None:
        await layer.send(
            channel, {"type": "matchmaking.lost_place", "text": protocol.unqueued(game, reason)}
        )
