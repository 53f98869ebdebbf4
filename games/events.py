"""Channel names, group names and the announcements services make after commit.

Every channel-layer message that is not a per-tick frame is sent from here,
so each lifecycle announcement can be found in one place.

Announcements are `robust` on-commit callbacks: the write they announce is
committed already, so a channel layer that is unreachable at that moment (Redis
away) is logged by Django once and must not turn a stored abort, seat or match
into an error for the caller (an operator's admin action, an API request).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.urls import reverse

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


def announce_abort_on_commit(match_id: Any, summary: str) -> None:
    """After commit, tell the match's sockets and its runner that the match was aborted."""
    frame = protocol.encode({"type": "aborted", "summary": summary})

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(
            match_group(match_id), {"type": "match.over", "text": frame}
        )
        async_to_sync(layer.send)(runner_channel(match_id), {"op": "aborted"})

    transaction.on_commit(send, robust=True)


def announce_lobby_change_on_commit() -> None:
    """After commit, tell every process that the lobby changed (they coalesce refreshes)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(LOBBY_GROUP, {"type": "lobby.changed"})

    transaction.on_commit(send, robust=True)


def announce_matched_on_commit(match_id: Any, game: str, player_ids: Sequence[int]) -> None:
    """After commit, tell each player of a match the queue made its id, on their lobby sockets."""
    frame = protocol.matched(str(match_id), game, reverse("match", args=[match_id]))
    players = list(player_ids)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for player_id in players:
            async_to_sync(layer.group_send)(
                player_group(player_id), {"type": "matchmaking.matched", "text": frame}
            )

    transaction.on_commit(send, robust=True)


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
