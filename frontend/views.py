"""Page views: render templates with what they need; all writes go through services."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from frontend.forms import ClaimAccountForm, SignUpForm
from frontend.redirects import safe_next
from games import access, services
from games.engine import GAMES
from games.models import Match, Participant, Player

LOBBY_MATCHES_PER_GAME = 8
FAVICON = Path(__file__).resolve().parent / "static" / "frontend" / "favicon.ico"


def _is_banned(player: Player | None) -> bool:
    """Whether the player is banned now (checking lifts a temporary ban that has ended)."""
    if player is None:
        return False
    try:
        services.check_can_play(player)
    except services.PlayerBanned:
        return True
    return False


def home(request: HttpRequest) -> HttpResponse:
    if _is_banned(access.get_player(request.user)):
        return redirect("banned")
    lobby = [
        (game, list(Match.objects.open_lobby(key).with_participants()[:LOBBY_MATCHES_PER_GAME]))
        for key, game in GAMES.items()
    ]
    top_players = Player.objects.leaderboard()[:5]
    return render(
        request,
        "frontend/home.html",
        {"lobby": lobby, "top_players": top_players, "player": access.get_player(request.user)},
    )


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            services.create_player(user, form.cleaned_data["display_name"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your account is ready.")
        return redirect(safe_next(request, default=reverse("home")))
    next_url = safe_next(request, default="")
    return render(request, "frontend/signup.html", {"form": form, "next": next_url})


@require_POST
def play_as_guest(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    player = services.create_guest()
    login(request, player.user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(
        request, f"You are playing as {player.display_name}. Save your account any time."
    )
    return redirect(safe_next(request, default=reverse("home")))


@login_required
def claim_account(request: HttpRequest) -> HttpResponse:
    player = access.get_player(request.user)
    assert player is not None  # login_required
    if not player.is_guest:
        return redirect("profile", player_id=player.pk)
    form = ClaimAccountForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            services.claim_guest(player)
        # Changing the password rotates the session hash; log in again to keep the session.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Account saved. Your rating and history are kept.")
        return redirect("profile", player_id=player.pk)
    return render(request, "frontend/claim.html", {"form": form, "player": player})


def profile(request: HttpRequest, player_id: int) -> HttpResponse:
    player = get_object_or_404(Player, pk=player_id)
    is_self = request.user.is_authenticated and request.user.pk == player.user_id
    history = Participant.objects.history_for(player)
    if not is_self:
        history = history.filter(match__is_private=False)
    return render(
        request,
        "frontend/profile.html",
        {"profile": player, "is_self": is_self, "recent": history[:20]},
    )


@login_required
def my_profile(request: HttpRequest) -> HttpResponse:
    player = access.get_player(request.user)
    assert player is not None  # login_required
    return redirect("profile", player_id=player.pk)


def match_page(request: HttpRequest, match_id: uuid.UUID) -> HttpResponse:
    """The game itself. Anyone may open it; the socket decides seat, spectator or refusal."""
    match = get_object_or_404(Match, pk=match_id)
    player = access.get_player(request.user)
    if player is None:
        return redirect(f"{reverse('login')}?next={request.path}")
    if _is_banned(player):
        return redirect("banned")
    return render(
        request,
        "frontend/match.html",
        {
            "match": match,
            "game": GAMES.get(match.game),
            "player": player,
            "how_to_play": _rules_template(match.game),
        },
    )


def _rules_template(game: str) -> str | None:
    """The template of a game's "How to play", or None for a game that has none yet."""
    name = f"frontend/how_to_play/{game}.html"
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


def how_to_play(request: HttpRequest, game: str) -> HttpResponse:
    """A game's rules and controls, in a player's words (linked from the lobby)."""
    rules = _rules_template(game)
    if game not in GAMES or rules is None:
        raise Http404("No such game.")
    return render(request, "frontend/how_to_play.html", {"game": GAMES[game], "rules": rules})


def replay_page(request: HttpRequest, match_id: uuid.UUID) -> HttpResponse:
    try:
        match = access.get_visible_match(request.user, match_id)
    except services.MatchNotFound as exc:
        raise Http404("No such match.") from exc
    return render(request, "frontend/replay.html", {"match": match, "game": GAMES.get(match.game)})


def leaderboard(request: HttpRequest) -> HttpResponse:
    page = Paginator(Player.objects.leaderboard(), 25).get_page(request.GET.get("page"))
    return render(request, "frontend/leaderboard.html", {"page": page})


@login_required
def banned(request: HttpRequest) -> HttpResponse:
    """Where a banned player lands: why, and until when; the lobby's link once it is over."""
    player = access.get_player(request.user)
    assert player is not None  # login_required
    in_force = _is_banned(player)
    until = player.banned_until if in_force else None
    return render(
        request,
        "frontend/banned.html",
        {
            "player": player,
            "in_force": in_force,
            "until": until,
            "until_words": services.format_ban_end(until) if until else "",
        },
        status=403 if in_force else 200,
    )


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """The site's icon at the address browsers ask for (the admin's pages link none)."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
