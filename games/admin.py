"""Operator views: players, matches, participants and the audit log, with actions that
call services.

Who may do what is Django's permissions, granted by the roles `create_roles`
makes (docs/operations.md): a moderator handles reports (warn, mute, ban for a
time) and views; an operator also bans for good, aborts and clears queue
cooldowns; only superusers manage accounts and groups. The live console
("Live now", a match's console and their JSON actions in `games.views_console`)
is mounted on the match admin: moderators watch, kick and message a match,
operators also abort and broadcast.
History is read-only for everyone: matches, participants, results, ratings and
the audit log cannot be added, edited or deleted here (status, results and
ratings change only through `games.services`), and a player with history
cannot be deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from games import services, views_console
from games.engine import GAMES
from games.models import (
    AuditEntry,
    ChatLine,
    Match,
    Participant,
    Player,
    Replay,
    Report,
    ReportStatus,
    Resolution,
)
from games.services import audit, cooldowns, moderation

PERMANENT = "permanent"
BAN_LENGTHS: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    PERMANENT: ("Permanent", None),
}


class BanForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Shown to the player.")
    length = forms.ChoiceField(label="For", initial="1d")

    def __init__(self, *args: Any, permanent_allowed: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without the permission the choice is not offered, and posting it anyway
        # is "not one of the available choices".
        length = self.fields["length"]
        assert isinstance(length, forms.ChoiceField)
        length.choices = [
            (key, label)
            for key, (label, _) in BAN_LENGTHS.items()
            if key != PERMANENT or permanent_allowed
        ]

    def until(self) -> datetime | None:
        """When the chosen ban ends, or None for a permanent one."""
        length = BAN_LENGTHS[self.cleaned_data["length"]][1]
        return None if length is None else timezone.now() + length


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Shown to the players.")


def _may(request: HttpRequest, permission: str) -> bool:
    return request.user.has_perm(f"games.{permission}")


def _is_permanent(player: Player) -> bool:
    return player.ban_in_force() and player.banned_until is None


def audit_link(target_type: str, pk: Any) -> str:
    """A link to the audit log's entries about one player or match, with their count."""
    count = AuditEntry.objects.filter(target_type=target_type, target_id=str(pk)).count()
    if not count:
        return "no entries"
    url = reverse("admin:games_auditentry_changelist")
    return format_html(
        '<a href="{}?target_type={}&amp;target_id={}">{} entr{}</a>',
        url,
        target_type,
        pk,
        count,
        "y" if count == 1 else "ies",
    )


def ban_status(player: Player) -> str:
    """A player's ban in words: "-", "permanent", "until <end>" or "ended <end>"."""
    if not player.is_banned:
        return "-"
    if player.banned_until is None:
        return "permanent"
    end = services.format_ban_end(player.banned_until)
    return f"until {end}" if player.ban_in_force() else f"ended {end}"


def cooldown_in_words(cooldown: cooldowns.Cooldown | None) -> str:
    """'4 minutes left (until 2026-12-01 20:31 UTC), 2 abandonments', or '-'."""
    if cooldown is None:
        return "-"
    left = cooldowns.time_left_in_words(cooldown.seconds_left())
    end = services.format_ban_end(cooldown.until)
    return f"{left} left (until {end}), {cooldown.abandonments} abandonments"


class CooldownFilter(admin.SimpleListFilter):
    """Players whose queue cooldown is in force now (computed from recent abandonments)."""

    title = "queue cooldown"
    parameter_name = "cooldown"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "In cooldown")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() != "yes":
            return queryset
        return queryset.filter(pk__in=list(cooldowns.players_in_cooldown()))


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
        "is_bot",
        "ban",
        "last_seen",
    )
    list_filter = (
        "is_banned",
        CooldownFilter,
        "is_guest",
        "is_bot",
        ("last_seen", admin.DateFieldListFilter),
    )
    search_fields = ("display_name", "user__username", "user__email")
    list_select_related = ("user",)
    ordering = ("-rating_ordinal",)
    # rating_mu, rating_sigma and rating_ordinal are the rating's internals: shown
    # rounded, through the methods below.
    readonly_fields = (
        "rating",
        "skill",
        "uncertainty",
        "matches_played",
        "wins",
        "losses",
        "draws",
        "win_rate",
        "is_bot",
        "bot_level",
        "created_at",
        "last_seen",
        "ban",
        "ban_reason",
        "banned_at",
        "muted",
        "cooldown",
        "reports",
        "audit",
    )
    fields = ("user", "display_name", "is_guest", *readonly_fields)
    raw_id_fields = ("user",)
    actions = ("ban_players", "unban_players", "clear_cooldowns")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # players sign up or play as guests

    def has_delete_permission(self, request: HttpRequest, obj: Player | None = None) -> bool:
        # Others' finished matches keep their seats: a player with history is banned instead.
        if obj is not None and obj.participations.exists():
            return False
        return super().has_delete_permission(request, obj)

    def has_ban_temporarily_permission(self, request: HttpRequest) -> bool:
        return _may(request, "ban_temporarily") or _may(request, "ban_permanently")

    @admin.display(description="Rating", ordering="rating_ordinal")
    def rating(self, player: Player) -> str:
        return f"{player.rating_ordinal:.2f}"

    @admin.display(description="Skill (mu)")
    def skill(self, player: Player) -> str:
        return f"{player.rating_mu:.2f}"

    @admin.display(description="Uncertainty (sigma)")
    def uncertainty(self, player: Player) -> str:
        return f"{player.rating_sigma:.2f}"

    @admin.display(description="Win rate")
    def win_rate(self, player: Player) -> str:
        if not player.matches_played:
            return "-"
        return f"{100 * player.wins / player.matches_played:.0f}%"

    @admin.display(description="Banned", ordering="banned_until")
    def ban(self, player: Player) -> str:
        return ban_status(player)

    @admin.display(description="Audit log")
    def audit(self, player: Player) -> str:
        return audit_link("player", player.pk)

    @admin.display(description="Chat muted")
    def muted(self, player: Player) -> str:
        return moderation.mute_in_words(player)

    @admin.display(description="Queue cooldown")
    def cooldown(self, player: Player) -> str:
        return cooldown_in_words(cooldowns.current_cooldown(player))

    @admin.display(description="Reports about them")
    def reports(self, player: Player) -> str:
        count = player.reports_received.count()
        if not count:
            return "none"
        url = reverse("admin:games_report_changelist")
        return format_html('<a href="{}?reported={}&amp;queue=all">{}</a>', url, player.pk, count)

    def has_clear_cooldown_permission(self, request: HttpRequest) -> bool:
        return _may(request, "clear_cooldown")

    @admin.action(
        description="Clear queue cooldowns of selected players", permissions=["clear_cooldown"]
    )
    def clear_cooldowns(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        cleared = sum(services.clear_cooldown(p, by=request.user) for p in queryset)
        self.message_user(request, f"Cleared {cleared} cooldown(s).", messages.SUCCESS)

    @admin.action(description="Ban selected players", permissions=["ban_temporarily"])
    def ban_players(self, request: HttpRequest, queryset: QuerySet[Player]) -> HttpResponse | None:
        # Two steps: the first POST shows a form for the reason and length, the second applies it.
        permanent_allowed = _may(request, "ban_permanently")
        data = request.POST if "apply" in request.POST else None
        form = BanForm(data, permanent_allowed=permanent_allowed)
        if form.is_valid():
            banned, refused = 0, []
            for player in queryset:
                if _is_permanent(player) and not permanent_allowed:
                    refused.append(player.display_name)  # not shortened by a moderator
                    continue
                reason, until = form.cleaned_data["reason"], form.until()
                services.ban_player(player, reason, until=until, by=request.user)
                banned += 1
            self._report(request, f"Banned {banned} player(s).", banned, refused)
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

    @admin.action(description="Unban selected players", permissions=["ban_temporarily"])
    def unban_players(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        permanent_allowed = _may(request, "ban_permanently")
        lifted, refused = 0, []
        for player in queryset.filter(is_banned=True):
            if _is_permanent(player) and not permanent_allowed:
                refused.append(player.display_name)
                continue
            lifted += services.unban_player(player, by=request.user)
        self._report(request, f"Unbanned {lifted} player(s).", lifted, refused)

    def _report(self, request: HttpRequest, done: str, count: int, refused: list[str]) -> None:
        if count or not refused:
            self.message_user(request, done, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"Permanently banned, which only an operator may change: {', '.join(refused)}.",
                messages.WARNING,
            )


# What an operator sees of a seat; all of it is written by services, none by hand.
PARTICIPANT_FIELDS = (
    "seat",
    "player",
    "score",
    "outcome",
    "rank",
    "rating_before_rounded",
    "rating_after_rounded",
    "joined_at",
    "left_at",
)


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


class SeatDisplay:
    """Rounded ratings of a seat, shared by the inline and the participants' list."""

    @admin.display(description="Rating before")
    def rating_before_rounded(self, participant: Participant) -> str:
        return _rounded(participant.rating_before)

    @admin.display(description="Rating after")
    def rating_after_rounded(self, participant: Participant) -> str:
        return _rounded(participant.rating_after)

    @admin.display(description="Rating change")
    def rating_delta(self, participant: Participant) -> str:
        change = participant.rating_change
        return "-" if change is None else f"{change:+.2f}"


class ReadOnly:
    """Nobody adds, edits or deletes these rows here, superusers included."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ParticipantInline(ReadOnly, SeatDisplay, admin.TabularInline[Participant, Match]):
    model = Participant
    extra = 0
    can_delete = False
    fields = PARTICIPANT_FIELDS
    readonly_fields = fields
    ordering = ("seat",)


class GameFilter(admin.SimpleListFilter):
    """Filter by the games in the registry, not only those already in the table."""

    title = "game"
    parameter_name = "game"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, game.title) for key, game in GAMES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(game=self.value()) if self.value() else queryset


@admin.register(Match)
class MatchAdmin(ReadOnly, admin.ModelAdmin[Match]):
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
    # runner_fence (the runners' fencing token) is internal and not shown.
    fields = (
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
        "result_words",
        "replay_info",
        "audit",
    )
    readonly_fields = fields
    actions = ("abort_matches",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Match]:
        # Names of every seat in one extra query, not one per row.
        return (
            super()
            .get_queryset(request)
            .annotate(seated=Count("participants"))
            .prefetch_related("participants__player")
        )

    def has_abort_permission(self, request: HttpRequest) -> bool:
        return _may(request, "abort_match")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        console = [
            path("live/", wrap(self.live_view), name="games_live"),
            path("<uuid:match_id>/console/", wrap(self.console_view), name="games_match_console"),
            *[
                path(route, wrap(view), name=name)
                for name, (route, view) in views_console.VIEWS.items()
            ],
        ]
        return [*console, *super().get_urls()]

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """The live console: live matches and processes, refreshed by its page every 2 s,
        and the broadcast form (docs/operations.md, "The live console")."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Live now",
            "opts": self.model._meta,
            "live": views_console.snapshot(),
            "may_broadcast": _may(request, "broadcast"),
            "ttl": int(settings.PRESENCE_TTL_SECONDS),
        }
        return TemplateResponse(request, "admin/games/live.html", context)

    def console_view(self, request: HttpRequest, match_id: str) -> HttpResponse:
        """One live match: watched read-only (the players' canvas viewer, as a spectator),
        with its players and the actions on it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        match = Match.objects.filter(pk=match_id).first()
        if match is None:
            raise Http404("No such match.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{match.game} {str(match.pk)[:8]}",
            "opts": self.model._meta,
            "original": match,
            "match": match,
            "game": GAMES.get(match.game),
            "may_kick": _may(request, "kick_player"),
            "may_message": _may(request, "message_match"),
            "may_abort": _may(request, "abort_match"),
        }
        return TemplateResponse(request, "admin/games/match/console.html", context)

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

    @admin.display(description="Audit log")
    def audit(self, match: Match) -> str:
        return audit_link("match", match.pk)

    @admin.display(description="Result")
    def result_words(self, match: Match) -> str:
        return result_in_words(match)

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

    @admin.action(description="Abort selected matches", permissions=["abort"])
    def abort_matches(self, request: HttpRequest, queryset: QuerySet[Match]) -> HttpResponse | None:
        # Two steps, as for a ban: the reason is shown to the match's players.
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Abort matches",
                "matches": queryset,
                "form": form,
                "action": "abort_matches",
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/games/match/abort.html", context)
        aborted, refused = 0, []
        for match in queryset:
            try:
                services.abort_match_by_operator(
                    match.pk, form.cleaned_data["reason"], by=request.user
                )
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
        return None


def result_in_words(match: Match) -> str:
    """A match's stored result as a sentence per seat: 'Seat 1, Alice: win, score 1, rank 1'."""
    result = match.result
    if not result:
        return "-"
    names = {p.seat: str(p.player) for p in match.participants.all()}
    lines = [str(result.get("summary", ""))]
    if "rated" in result:
        lines.append("Rated." if result["rated"] else "Not rated.")
    for seat in result.get("seats", []):
        lines.append(
            f"Seat {seat['seat'] + 1}, {names.get(seat['seat'], '?')}: {seat['outcome']}, "
            f"score {seat['score']}, rank {seat['rank']}"
        )
    return "\n".join(line for line in lines if line)


def _tick_rate(match: Match) -> int:
    game = GAMES.get(match.game)
    return game.tick_rate if game else 1


@admin.register(Participant)
class ParticipantAdmin(ReadOnly, SeatDisplay, admin.ModelAdmin[Participant]):
    list_display = ("match", "player", "seat", "score", "outcome", "rating_delta", "joined_at")
    list_filter = ("outcome", ("joined_at", admin.DateFieldListFilter))
    search_fields = ("player__display_name", "match__id")
    list_select_related = ("match", "player")
    fields = ("match", *PARTICIPANT_FIELDS, "rating_delta")
    readonly_fields = fields


class ActorFilter(admin.SimpleListFilter):
    """Filter by the operator's name as written, so deleted accounts still appear."""

    title = "operator"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = AuditEntry.objects.order_by("actor_name").values_list("actor_name", flat=True)
        return [(name, name) for name in names.distinct()[:100]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(actor_name=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly, admin.ModelAdmin[AuditEntry]):
    list_display = ("at", "actor_name", "action", "target_link", "reason", "details_words")
    list_filter = ("action", ActorFilter, "target_type", ("at", admin.DateFieldListFilter))
    search_fields = ("actor_name", "target_name", "target_id", "reason")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    fields = (
        "at",
        "actor_name",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_link",
        "reason",
        "details_words",
    )
    readonly_fields = fields

    @admin.display(description="Target")
    def target_link(self, entry: AuditEntry) -> str:
        if entry.target_type == audit.SITE:
            return entry.target_name  # a broadcast: everyone
        view = {"player": "admin:games_player_change", "match": "admin:games_match_change"}
        return format_html(
            '<a href="{}">{}</a>',
            reverse(view[entry.target_type], args=[entry.target_id]),
            entry.target_name,
        )

    @admin.display(description="Details")
    def details_words(self, entry: AuditEntry) -> str:
        if "report" in entry.details:
            done = (
                Resolution(entry.details["resolution"]).label
                if "resolution" in entry.details
                else "claimed"
            )
            return f"report #{entry.details['report']}: {done}"
        if "match" in entry.details:  # a kick
            return f"from match {str(entry.details['match'])[:8]}"
        if entry.details.get("permanent"):
            return "permanent"
        if "until" in entry.details:
            end = services.format_ban_end(datetime.fromisoformat(entry.details["until"]))
            return f"until {end}"
        return "-"


# --- Reports: the moderation queue ------------------------------------------------------

MUTE_LENGTHS = {key: value for key, value in BAN_LENGTHS.items() if key != PERMANENT}


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(widget=forms.RadioSelect)
    note = forms.CharField(
        max_length=200,
        label="Reason",
        help_text="Shown to the player with a warning, a mute or a ban; kept in the audit log.",
    )
    length = forms.ChoiceField(
        label="For",
        initial="1d",
        choices=[(key, label) for key, (label, _) in MUTE_LENGTHS.items()],
        help_text="How long a mute or a temporary ban lasts.",
    )

    def __init__(self, *args: Any, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A choice not offered (a permanent ban for a moderator) is refused if posted anyway.
        field = self.fields["resolution"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(r.value, r.label) for r in Resolution if r.value in allowed]

    def decision(self) -> moderation.Decision:
        resolution = self.cleaned_data["resolution"]
        until = None
        if resolution in (Resolution.MUTE, Resolution.TEMPORARY_BAN):
            length = MUTE_LENGTHS[self.cleaned_data["length"]][1]
            assert length is not None
            until = timezone.now() + length
        return moderation.Decision(resolution, self.cleaned_data["note"], until)


def allowed_resolutions(request: HttpRequest) -> list[str]:
    """The resolutions this moderator may choose (a ban needs the ban permissions)."""
    allowed = [Resolution.DISMISS, Resolution.WARN, Resolution.MUTE]
    if _may(request, "ban_temporarily") or _may(request, "ban_permanently"):
        allowed.append(Resolution.TEMPORARY_BAN)
    if _may(request, "ban_permanently"):
        allowed.append(Resolution.PERMANENT_BAN)
    return [str(r) for r in allowed]


class QueueFilter(admin.SimpleListFilter):
    """The queue by default: open and claimed reports; resolved ones on request."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("mine", "Claimed by me"), ("resolved", "Resolved"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            if choice["query_string"] == changelist.get_query_string(remove=[self.parameter_name]):
                choice["display"] = "To handle"  # the default: unresolved
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "all":
            return queryset
        if value == "resolved":
            return queryset.filter(status=ReportStatus.RESOLVED)
        unresolved = queryset.exclude(status=ReportStatus.RESOLVED)
        if value == "mine":
            return unresolved.filter(assigned_to=request.user)
        return unresolved


class ReportedFilter(admin.SimpleListFilter):
    """Reports about one player, linked from the player's page (no list of every player)."""

    title = "reported player"
    parameter_name = "reported"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not value or not value.isdigit():
            return []
        name = Player.objects.filter(pk=value).values_list("display_name", flat=True).first()
        return [(value, name or value)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(reported_id=value) if value and value.isdigit() else queryset


@admin.register(Report)
class ReportAdmin(ReadOnly, admin.ModelAdmin[Report]):
    """The moderation queue: the list is the queue, a report's page is its evidence and
    the place to claim and resolve it."""

    list_display = (
        "created_at",
        "reported",
        "reason",
        "reporter",
        "match_short",
        "status",
        "assigned_to",
        "resolution",
    )
    list_filter = (QueueFilter, ReportedFilter, "reason", ("created_at", admin.DateFieldListFilter))
    search_fields = ("reported__display_name", "reporter__display_name", "text")
    list_select_related = ("reported", "reporter", "match", "assigned_to")
    ordering = ("created_at", "id")  # oldest first: a queue

    def has_handle_permission(self, request: HttpRequest) -> bool:
        return _may(request, "handle_report")

    @admin.display(description="Match")
    def match_short(self, report: Report) -> str:
        return f"{report.match.game} {str(report.match_id)[:8]}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The evidence page, with the claim and resolve forms."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = self.get_object(request, object_id)
        if report is None:
            raise Http404("No such report.")
        form = ResolveForm(allowed=allowed_resolutions(request))
        if request.method == "POST":
            if not self.has_handle_permission(request):
                raise PermissionDenied
            invalid = self._handle(request, report)
            if invalid is None:
                return HttpResponseRedirect(request.path)
            form = invalid
        return TemplateResponse(
            request, "admin/games/report/review.html", self._context(request, report, form)
        )

    def _handle(self, request: HttpRequest, report: Report) -> ResolveForm | None:
        """Claim or resolve from a POST; the form again (with its errors) if it was invalid."""
        moderator = request.user
        assert isinstance(moderator, User)  # admin_view let only staff in
        try:
            if "claim" in request.POST:
                services.claim_report(report.pk, by=moderator)
                self.message_user(request, "You have claimed this report.", messages.SUCCESS)
                return None
            form = ResolveForm(request.POST, allowed=allowed_resolutions(request))
            if not form.is_valid():
                return form
            services.resolve_report(report.pk, form.decision(), by=moderator)
        except services.ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        label = Resolution(form.cleaned_data["resolution"]).label
        self.message_user(request, f"Resolved: {label}.", messages.SUCCESS)
        return None

    def _context(self, request: HttpRequest, report: Report, form: ResolveForm) -> dict[str, Any]:
        reported = report.reported
        has_replay = Replay.objects.filter(match_id=report.match_id).exists()
        return {
            **self.admin_site.each_context(request),
            "title": f"Report: {report}",
            "opts": self.model._meta,
            "original": report,
            "report": report,
            "form": form,
            "may_handle": self.has_handle_permission(request),
            "mine": report.assigned_to_id == request.user.pk,
            "replay_url": reverse("replay", args=[report.match_id]) if has_replay else "",
            "match_url": reverse("admin:games_match_change", args=[report.match_id]),
            "result": result_in_words(report.match),
            "chat": ChatLine.objects.filter(match_id=report.match_id)
            .select_related("player")
            .order_by("at", "id")[:500],
            "other_reports": reported.reports_received.exclude(pk=report.pk)
            .select_related("reporter", "match")
            .order_by("-created_at")[:10],
            "recent_matches": Participant.objects.history_for(reported)[:10],
            "ban": ban_status(reported),
            "muted": moderation.mute_in_words(reported),
            "cooldown": cooldown_in_words(cooldowns.current_cooldown(reported)),
        }


@admin.register(ChatLine)
class ChatLineAdmin(ReadOnly, admin.ModelAdmin[ChatLine]):
    """Stored match chat, read-only; kept CHAT_RETENTION_DAYS (`manage.py prune_chat`)."""

    list_display = ("at", "player", "seat_words", "text", "match")
    list_filter = (("at", admin.DateFieldListFilter),)
    search_fields = ("text", "player__display_name", "match__id")
    list_select_related = ("player", "match")
    ordering = ("-at", "-id")

    @admin.display(description="Seat")
    def seat_words(self, line: ChatLine) -> str:
        return "spectator" if line.seat is None else f"seat {line.seat + 1}"


# Accounts and roles: superusers only, whatever permissions a group was given.
class SuperuserOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class AccountAdmin(SuperuserOnly, UserAdmin):  # type: ignore[type-arg]
    pass


class RoleAdmin(SuperuserOnly, GroupAdmin):
    pass


# The index's sidebar links "Live now" and the audit log (instead of Django's
# "Recent actions", which lists form edits, and operators make none).
admin.site.index_template = "admin/games/index.html"

admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.register(User, AccountAdmin)
admin.site.register(Group, RoleAdmin)
