"""Accounts: players, guests and their generated names, claiming a guest, activity, bans."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from games.models import Player
from games.services import announce
from games.services.errors import PlayerBanned

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
    """Record that the user was just seen (on log-in)."""
    if user.is_authenticated:
        Player.objects.filter(user=user).update(last_seen=timezone.now())


def ban_player(player: Player, reason: str) -> None:
    """Ban a player: they can no longer create or join matches, and their live sockets
    are closed (4003, with the reason) on every process once the ban is committed."""
    reason = (reason.strip() or "Banned by an operator.")[:200]
    with transaction.atomic():
        Player.objects.filter(pk=player.pk).update(
            is_banned=True, ban_reason=reason, banned_at=timezone.now()
        )
        announce.banned_on_commit(player.pk, ban_message(reason))


def unban_player(player: Player) -> None:
    Player.objects.filter(pk=player.pk).update(is_banned=False, ban_reason="", banned_at=None)


def check_can_play(player: Player) -> None:
    """Raise PlayerBanned if the player may not take part in matches."""
    if player.is_banned:
        raise PlayerBanned(ban_message(player.ban_reason))


def ban_message(reason: str) -> str:
    """What a banned player is told, when refused and when their sockets are closed."""
    return f"You are banned: {reason}"


def touch_player_if_stale(player: Player, seconds: int = 60) -> None:
    """Record activity at most once a minute, so polling does not write every time."""
    now = timezone.now()
    if player.last_seen is None or (now - player.last_seen).total_seconds() > seconds:
        Player.objects.filter(pk=player.pk).update(last_seen=now)
        player.last_seen = now
