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
