"""manage.py prune_chat: delete match chat older than CHAT_RETENTION_DAYS.

Run it daily (a systemd timer or cron); `--days N` overrides the setting once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from games import services


class Command(BaseCommand):
    help = "Delete stored match chat older than CHAT_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Keep this many days instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.CHAT_RETENTION_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days is 0 or more.")
        deleted = services.prune_chat(days)
        self.stdout.write(f"Deleted {deleted} chat line(s) older than {days} day(s).")
