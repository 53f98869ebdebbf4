"""Channel names, group names and the announcements services make after commit.

Every channel-layer message that is not a per-tick frame is sent from here,
so each lifecycle announcement can be found in one place.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from games import protocol


def match_group(match_id: Any) -> str:
    """Every socket of a match (players and spectators) is in this group."""
    return f"match.{_hex(match_id)}"


def spectator_group(match_id: Any) -> str:
    """Spectators of a match; they get their own view in games with hidden information."""
    return f"match.{_hex(match_id)}.spectators"


LOBBY_GROUP = "lobby"


def player_group(player_id: int) -> str:
    """A player's lobby sockets, for messages meant for that player only."""
    return f"player.{player_id}"


def runner_channel(match_id: Any) -> str:
    """The channel the runner of a match listens on, whichever process runs it."""
    return f"match-runner.{_hex(match_id)}"


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

    transaction.on_commit(send)


def announce_lobby_change_on_commit() -> None:
    """After commit, tell every process that the lobby changed (they coalesce refreshes)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(LOBBY_GROUP, {"type": "lobby.changed"})

    transaction.on_commit(send)
