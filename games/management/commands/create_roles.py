"""manage.py create_roles: the "moderator" and "operator" groups and their permissions.

Idempotent: run it again (after an upgrade, say) and each group has exactly the
permissions below again, whatever was added or removed by hand meanwhile.
Accounts are put into a group by a superuser in the admin (Users, Groups).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

# Viewing the games' tables, reports, chat and the audit log; nothing of accounts or groups.
_VIEW = (
    "view_player",
    "view_match",
    "view_participant",
    "view_auditentry",
    "view_report",
    "view_chatline",
)
# Claiming and resolving reports (dismiss, warn, mute), banning for a time, and in the
# live console kicking a player from a match and messaging a match (watching is viewing).
_MODERATE = ("handle_report", "ban_temporarily", "kick_player", "message_match")

ROLES: dict[str, tuple[str, ...]] = {
    "moderator": (*_VIEW, *_MODERATE),
    "operator": (
        *_VIEW,
        *_MODERATE,
        "ban_permanently",
        "abort_match",
        "clear_cooldown",
        "broadcast",
    ),
}


class Command(BaseCommand):
    help = 'Create or update the "moderator" and "operator" groups with their permissions.'

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for name, codenames in ROLES.items():
                group, created = Group.objects.get_or_create(name=name)
                group.permissions.set(_permissions(codenames))
                verb = "Created" if created else "Updated"
                self.stdout.write(f"{verb} {name}: {', '.join(sorted(codenames))}")


def _permissions(codenames: tuple[str, ...]) -> list[Permission]:
    found = list(Permission.objects.filter(content_type__app_label="games", codename__in=codenames))
    missing = set(codenames) - {p.codename for p in found}
    if missing:
        names = ", ".join(sorted(missing))
        raise CommandError(f"Permissions missing ({names}): run migrate first.")
    return found
