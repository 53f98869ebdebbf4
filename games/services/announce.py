"""The one door from synchronous Django code to the sockets: announcements after commit.

Every channel-layer message the service layer sends is sent from here, so each
lifecycle announcement can be found in one place, and nothing else in
`games.services` touches the channel layer.

Announcements are `robust` on-commit callbacks: the write they announce is
committed already, so a channel layer that is unreachable at that moment (Redis
away, or a pooled connection a Redis restart closed) must not turn a stored
abort, seat or match into an error for the caller (an operator's admin action,
an API request). Such a failure is one warning line, not a traceback: the
sockets catch up on their own (the lobby refreshes every few seconds, a match
socket's runner sends the abort, a banned player cannot reconnect). Anything
else is a bug, and Django logs it with its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.urls import reverse

from games import protocol
from games.runtime.messages import (
    LOBBY_GROUP,
    OPERATOR_NOTICE,
    PLAYER_BANNED,
    PLAYER_KICKED,
    match_group,
    player_group,
    player_sockets_group,
    runner_channel,
)

logger = logging.getLogger(__name__)

# What an unreachable channel layer raises (redis-py, or the socket under it).
_LAYER_DOWN = (redis.RedisError, OSError)


def _on_commit(what: str, send: Callable[[], None]) -> None:
    @functools.wraps(send)
    def announce() -> None:
        try:
            send()
        except _LAYER_DOWN as exc:
            logger.warning("could not announce %s: %s: %s", what, type(exc).__name__, exc)

    transaction.on_commit(announce, robust=True)


def abort_on_commit(match_id: Any, summary: str) -> None:
    """After commit, tell the match's sockets and its runner that the match was aborted."""
    frame = protocol.aborted(summary)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(
            match_group(match_id), {"type": "match.over", "text": frame}
        )
        async_to_sync(layer.send)(runner_channel(match_id), {"op": "aborted"})

    _on_commit("an abort", send)


def banned_on_commit(player_id: int, reason: str) -> None:
    """After commit, close every socket of a banned player, on every process, with 4003.

    `reason` is what the player reads in the `closing` frame. A match socket's
    close is a leave to its runner, so the seat follows the game's reconnection
    rule, and the player cannot reconnect: connecting refuses banned players.
    """

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                player_sockets_group(player_id), {"type": PLAYER_BANNED, "reason": reason}
            )

    _on_commit("a ban", send)


def kicked_on_commit(player_id: int, match_id: Any, reason: str) -> None:
    """After commit, close the player's sockets of this match, on every process, with 4005.

    The event goes to all their sockets (`player_sockets_group`); only those of this
    match close. As for a ban, the close is a leave to the runner, so the seat follows
    the game's reconnection rule; reconnecting is refused (`access`).
    """
    event = {"type": PLAYER_KICKED, "match": str(match_id), "reason": reason}

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(player_sockets_group(player_id), event)

    _on_commit("a kick", send)


def notice_on_commit(frame: str, *, match_ids: Sequence[Any] = (), lobby: bool = False) -> None:
    """After commit, send an operator's `notice` frame to the sockets of these matches
    (players and spectators), and to every lobby socket if `lobby`."""
    groups = ([LOBBY_GROUP] if lobby else []) + [match_group(m) for m in match_ids]
    event = {"type": OPERATOR_NOTICE, "text": frame}

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for group in groups:
            async_to_sync(layer.group_send)(group, event)

    _on_commit("an operator's message", send)


def lobby_change_on_commit() -> None:
    """After commit, tell every process that the lobby changed (they coalesce refreshes)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(LOBBY_GROUP, {"type": "lobby.changed"})

    _on_commit("a lobby change", send)


def matched_on_commit(match_id: Any, game: str, player_ids: Sequence[int]) -> None:
    """After commit, tell each player of a match the queue made its id, on their lobby sockets."""
    frame = protocol.matched(str(match_id), game, reverse("match", args=[match_id]))
    what = "a match made by the queue"
    _to_lobby_sockets_on_commit(what, player_ids, "matchmaking.matched", frame)


def rematch_on_commit(player_ids: Sequence[int], frame: str) -> None:
    """After commit, tell these people of a finished match how its rematch stands (a
    `rematch` frame), on their lobby sockets."""
    _to_lobby_sockets_on_commit("a rematch answer", player_ids, "rematch.changed", frame)


def _to_lobby_sockets_on_commit(
    what: str, player_ids: Sequence[int], event: str, frame: str
) -> None:
    """After commit, one channel-layer event carrying `frame` to each player's lobby sockets."""
    players = list(player_ids)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for player_id in players:
            async_to_sync(layer.group_send)(player_group(player_id), {"type": event, "text": frame})

    _on_commit(what, send)
