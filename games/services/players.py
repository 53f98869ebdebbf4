"""Accounts: players, guests and their generated names, claiming a guest, activity, bans.

Bans and unbans are operator actions: each writes its audit entry (`audit`) in
its own transaction.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from games.models import AuditAction, Player
from games.services import announce, audit
from games.services.audit import Actor
from games.services.errors import InvalidRequest, PlayerBanned

_ADJECTIVES = [
    "Swift",
    "Brave",
    "Clever",
    "Mighty",
    "Silent",
    "Lucky",
    "Rapid",
    "Cosmic",
    "Fuzzy",
    "Golden",
    "Happy",
    "Nimble",
    "Bold",
    "Crimson",
    "Frosty",
    "Jolly",
    "Quiet",
    "Sunny",
    "Wild",
    "Zesty",
]


_ANIMALS = [
    "Otter",
    "Falcon",
    "Panda",
    "Tiger",
    "Badger",
    "Heron",
    "Lynx",
    "Gecko",
    "Walrus",
    "Raven",
    "Fox",
    "Koala",
    "Moose",
    "Puffin",
    "Bison",
    "Cobra",
    "Marten",
    "Ibex",
    "Yak",
    "Newt",
]


def display_name_taken(name: str, exclude: Player | None = None) -> bool:
    """Whether another player already uses `name`, ignoring case."""
    others = Player.objects.filter(display_name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def create_player(user: User, display_name: str, *, is_guest: bool = False) -> Player:
    """Give `user` a player profile with a fresh rating."""
    return Player.objects.create(
        user=user, display_name=display_name, is_guest=is_guest, last_seen=timezone.now()
    )


def ensure_player(user: User) -> Player:
    """The user's player, created on first use (for example for a superuser)."""
    try:
        return user.player
    except Player.DoesNotExist:
        pass
    name = user.get_username()[:32]
    if display_name_taken(name):
        name = _generated_name()
    with transaction.atomic():
        player, _ = Player.objects.get_or_create(
            user=user, defaults={"display_name": name, "last_seen": timezone.now()}
        )
    return player


def create_guest() -> Player:
    """Create a guest user with a generated display name and no usable password."""
    User = get_user_model()
    with transaction.atomic():
        name = _generated_name()
        user = User.objects.create_user(username=f"guest-{secrets.token_hex(6)}")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return create_player(user, name, is_guest=True)


def _generated_name() -> str:
    for _ in range(20):
        name = f"{secrets.choice(_ADJECTIVES)}{secrets.choice(_ANIMALS)}{secrets.randbelow(1000)}"
        if not display_name_taken(name):
            return name
    return f"Guest{secrets.token_hex(4)}"


def claim_guest(player: Player) -> None:
    """Turn a guest into a regular account once it has a username and password.

    The player row (rating, history) is kept; only the guest flag changes.
    """
    Player.objects.filter(pk=player.pk).update(is_guest=False)
    player.is_guest = False


def touch_player(user: User | AnonymousUser) -> None:
    """Record that the user was just seen (on log-in), and lift their ban if it has ended."""
    if user.is_authenticated:
        Player.objects.filter(user=user).update(last_seen=timezone.now())
        _lift_expired(Player.objects.filter(user=user))


def ban_player(
    player: Player, reason: str, *, until: datetime | None = None, by: Actor = None
) -> None:
    """Ban a player until `until`, or for good when it is None; `by` is the operator.

    They can no longer create, join or queue for matches, and their live sockets
    are closed (4003, with the reason) on every process once the ban is committed.
    A new ban replaces the one in force. The audit log gets an entry in the same
    transaction. InvalidRequest if `until` is not in the future.
    """
    reason = (reason.strip() or "Banned by an operator.")[:200]
    now = timezone.now()
    if until is not None and until <= now:
        raise InvalidRequest("A temporary ban must end in the future.")
    with transaction.atomic():
        Player.objects.filter(pk=player.pk).update(
            is_banned=True, ban_reason=reason, banned_at=now, banned_until=until
        )
        details = {"until": until.isoformat()} if until is not None else {"permanent": True}
        audit.record(by, AuditAction.BAN, player, reason, **details)
        announce.banned_on_commit(player.pk, ban_message(reason, until))


def unban_player(player: Player, *, by: Actor = None, reason: str = "") -> bool:
    """Lift a player's ban now; False (and no audit entry) if they were not banned."""
    with transaction.atomic():
        lifted = Player.objects.filter(pk=player.pk, is_banned=True).update(**_NOT_BANNED)
        if lifted:
            audit.record(by, AuditAction.UNBAN, player, reason)
    return bool(lifted)


# The fields of a player without a ban.
_NOT_BANNED = {"is_banned": False, "ban_reason": "", "banned_at": None, "banned_until": None}


def lift_expired_ban(player: Player) -> bool:
    """Lift the player's temporary ban if its end has passed; whether it was lifted.

    Temporary bans end here, at the points of use (playing, connecting, logging in)
    instead of by a scheduled job. The update is conditional on the stored end,
    so a new ban given meanwhile is not lifted by a check that read the old one.
    """
    if not player.is_banned or player.banned_until is None:
        return False
    if player.banned_until > timezone.now():
        return False
    if not _lift_expired(Player.objects.filter(pk=player.pk)):
        # Banned again or unbanned since `player` was read: the stored ban is the one that counts.
        player.refresh_from_db(fields=list(_NOT_BANNED))
        return False
    for field, value in _NOT_BANNED.items():
        setattr(player, field, value)
    return True


def _lift_expired(players: QuerySet[Player]) -> int:
    return players.filter(is_banned=True, banned_until__lte=timezone.now()).update(**_NOT_BANNED)


def check_can_play(player: Player) -> None:
    """Raise PlayerBanned if the player may not take part in matches (lifting an expired ban)."""
    lift_expired_ban(player)  # which also re-reads a ban changed since `player` was read
    if player.ban_in_force():
        raise PlayerBanned(ban_message(player.ban_reason, player.banned_until))


def ban_message(reason: str, until: datetime | None = None) -> str:
    """What a banned player is told, when refused and when their sockets are closed."""
    if until is None:
        return f"You are banned: {reason}"
    return f"You are banned until {format_ban_end(until)}: {reason}"


def format_ban_end(until: datetime) -> str:
    """A ban's end in words a player reads the same anywhere: '2026-12-01 21:10 UTC'."""
    return until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def touch_player_if_stale(player: Player, seconds: int = 60) -> None:
    """Record activity at most once a minute, so polling does not write every time."""
    now = timezone.now()
    if player.last_seen is None or (now - player.last_seen).total_seconds() > seconds:
        Player.objects.filter(pk=player.pk).update(last_seen=now)
        player.last_seen = now
