"""Match chat kept as evidence: each line stored, mutes checked, old lines pruned.

The runner broadcasts a line only once `record_chat` has stored it, so what
moderators read is what players heard. Lines are kept `CHAT_RETENTION_DAYS`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from games import protocol
from games.models import ChatLine, Participant, Player
from games.services.errors import InvalidRequest, PlayerMuted
from games.services.players import format_ban_end


def check_can_chat(player: Player) -> None:
    """Raise PlayerMuted ("You are muted until …") while a moderator's mute lasts."""
    until = player.muted_until
    if until is not None and until > timezone.now():
        reason = f": {player.mute_reason}" if player.mute_reason else "."
        raise PlayerMuted(f"You are muted until {format_ban_end(until)}{reason}")


def record_chat(match_id: Any, player_id: int, text: str) -> ChatLine:
    """Store one chat line said in a match, with the speaker's seat (None: a spectator).

    Raises PlayerMuted for a muted player (nothing is stored, and the line must not
    be delivered), InvalidRequest for an unknown player or an empty line. The
    text is stripped and cut to the protocol's limit.
    """
    player = Player.objects.filter(pk=player_id).first()
    if player is None:
        raise InvalidRequest("No such player.")
    check_can_chat(player)
    text = text.strip()[: protocol.MAX_CHAT_CHARS]
    if not text:
        raise InvalidRequest("A chat line has some text.")
    seat = (
        Participant.objects.filter(match_id=match_id, player_id=player_id)
        .values_list("seat", flat=True)
        .first()
    )
    return ChatLine.objects.create(match_id=match_id, player=player, seat=seat, text=text)


def prune_chat(days: int | None = None) -> int:
    """Delete chat lines older than `days` (CHAT_RETENTION_DAYS by default); how many went."""
    keep = settings.CHAT_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep)
    deleted, _ = ChatLine.objects.filter(at__lt=cutoff).delete()
    return deleted
