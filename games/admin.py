"""Operator views: players, matches and participants, with actions that call services.

Status, results and ratings are read-only here: they change only through
`games.services` (the abort and ban actions), never by editing a form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from games import services
from games.cluster import leases, presence
from games.engine import GAMES
from games.models import Match, MatchStatus, Participant, Player, Replay


class BanForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Shown to the player.")


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin[Player]):
    list_display = (
        "display_name",
        "user",
        "rating",
        "matches_played",
        "wins",
        "losses",
        "draws",
        "is_guest",
        "is_banned",
        "last_seen",
    )
    list_filter = ("is_banned", "is_guest", ("last_seen", admin.DateFieldListFilter))
    search_fields = ("display_name", "user__username", "user__email")
    list_select_related = ("user",)
    ordering = ("-rating_ordinal",)
    readonly_fields = (
        "rating",
        "rating_mu",
        "rating_sigma",
        "matches_played",
        "wins",
        "losses",
        "draws",
        "win_rate",
        "created_at",
        "last_seen",
        "is_banned",
        "ban_reason",
        "banned_at",
    )
    fields = ("user", "display_name", "is_guest", *readonly_fields)
    raw_id_fields = ("user",)
    actions = ("ban_players", "unban_players")

    @admin.display(description="Rating", ordering="rating_ordinal")
    def rating(self, player: Player) -> str:
        return f"{player.rating_ordinal:.1f}"

    @admin.display(description="Win rate")
    def win_rate(self, player: Player) -> str:
        if not player.matches_played:
            return "-"
        return f"{100 * player.wins / player.matches_played:.0f}%"

    @admin.action(description="Ban selected players")
    def ban_players(self, request: HttpRequest, queryset: QuerySet[Player]) -> HttpResponse | None:
        # Two steps: the first POST shows a form for the reason, the second applies it.
        form = BanForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for player in queryset:
                services.ban_player(player, form.cleaned_data["reason"])
            self.message_user(request, f"Banned {queryset.count()} player(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Ban players",
            "players": queryset,
            "form": form,
            "action": "ban_players",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/games/player/ban.html", context)

    @admin.action(description="Unban selected players")
    def unban_players(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        for player in queryset:
            services.unban_player(player)
        self.message_user(request, f"Unbanned {queryset.count()} player(s).", messages.SUCCESS)


# What an operator sees of a seat; all of it is written by services, none by hand.
PARTICIPANT_FIELDS = (
    "seat",
    "player",
    "score",
    "outcome",
    "rank",
    "rating_before",
    "rating_after",
    "joined_at",
    "left_at",
)


class ParticipantInline(admin.TabularInline[Participant, Match]):
    model = Participant
    extra = 0
    can_delete = False
    fields = PARTICIPANT_FIELDS
    readonly_fields = fields
    ordering = ("seat",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GameFilter(admin.SimpleListFilter):
    """Filter by the games in the registry, not only those already in the table."""

    title = "game"
    parameter_name = "game"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, game.title) for key, game in GAMES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(game=self.value()) if self.value() else queryset


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin[Match]):
    list_display = (
        "short_id",
        "game",
        "status",
        "players",
        "is_private",
        "created_at",
        "duration",
    )
    list_filter = (GameFilter, "status", "is_private", ("created_at", admin.DateFieldListFilter))
    search_fields = ("id", "join_code", "participants__player__display_name")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    inlines = (ParticipantInline,)
    readonly_fields = (
        "id",
        "game",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "created_by",
        "max_players",
        "is_private",
        "join_code",
        "settings",
        "seed",
        "result",
        "replay_info",
    )
    actions = ("abort_matches",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Match]:
        # Names of every seat in one extra query, not one per row.
        return (
            super()
            .get_queryset(request)
            .annotate(seated=Count("participants"))
            .prefetch_related("participants__player")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # matches are created by players through the lobby

    def get_urls(self) -> list[URLPattern]:
        live = path("live/", self.admin_site.admin_view(self.live_view), name="games_live")
        return [live, *super().get_urls()]

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """Who is online now, and each live match with its connected players and runner."""
        connections = presence.current()
        per_match = presence.by_match(connections)
        online_ids = presence.online_players(connections)
        names = dict(Player.objects.filter(pk__in=online_ids).values_list("pk", "display_name"))
        live = (
            Match.objects.filter(Q(status=MatchStatus.ACTIVE) | Q(pk__in=list(per_match)))
            .exclude(status__in=[MatchStatus.FINISHED, MatchStatus.ABORTED])
            .order_by("-created_at")
        )
        matches = [
            {
                "match": match,
                "connected": sorted(names.get(i, str(i)) for i in per_match.get(str(match.pk), ())),
                "runner": leases.holder_sync(str(match.pk)) or "-",
            }
            for match in live[:200]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Live now",
            "opts": self.model._meta,
            "online": sorted(names.get(i, str(i)) for i in online_ids),
            "matches": matches,
            "ttl": int(settings.PRESENCE_TTL_SECONDS),
        }
        return TemplateResponse(request, "admin/games/live.html", context)

    @admin.display(description="Match", ordering="id")
    def short_id(self, match: Match) -> str:
        return str(match.id)[:8]

    @admin.display(description="Players")
    def players(self, match: Match) -> str:
        names = [str(p.player) for p in sorted(match.participants.all(), key=lambda p: p.seat)]
        return f"{', '.join(names)} ({len(names)}/{match.max_players})"

    @admin.display(description="Duration")
    def duration(self, match: Match) -> str:
        seconds = match.duration_seconds
        if seconds is None:
            return "-"
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}:{secs:02d}"

    @admin.display(description="Replay")
    def replay_info(self, match: Match) -> str:
        replay = Replay.objects.filter(match=match).first()
        if replay is None:
            return "-"
        seconds = replay.final_tick / int(replay.settings.get("tick_rate", 0) or _tick_rate(match))
        return (
            f"{len(replay.entries())} inputs over {replay.final_tick} ticks "
            f"({seconds:.0f} s), {replay.seats} seats, seed {replay.seed}"
        )

    @admin.action(description="Abort selected matches")
    def abort_matches(self, request: HttpRequest, queryset: QuerySet[Match]) -> None:
        aborted, refused = 0, []
        for match in queryset:
            try:
                services.abort_match(match.pk, f"aborted by operator {request.user}")
                aborted += 1
            except services.IllegalTransition:
                refused.append(str(match.id)[:8])
        if aborted:
            self.message_user(request, f"Aborted {aborted} match(es).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"Already over, not aborted: {', '.join(refused)}.",
                messages.WARNING,
            )


def _tick_rate(match: Match) -> int:
    game = GAMES.get(match.game)
    return game.tick_rate if game else 1


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin[Participant]):
    list_display = ("match", "player", "seat", "score", "outcome", "rating_delta", "joined_at")
    list_filter = ("outcome", ("joined_at", admin.DateFieldListFilter))
    search_fields = ("player__display_name", "match__id")
    list_select_related = ("match", "player")
    raw_id_fields = ("match", "player")
    readonly_fields = ("match", *PARTICIPANT_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Rating change")
    def rating_delta(self, participant: Participant) -> str:
        change = participant.rating_change
        return "-" if change is None else f"{change:+.2f}"
