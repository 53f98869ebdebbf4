"""The JSON lobby API: thin views over `games.access` and `games.services`.

Session authentication with CSRF protection, as for any Django form. Every
error is JSON: {"error": {"code": "...", "message": "..."}} with a status code,
including unknown paths and the errors Django answers itself (the handlers at
the end, set in gameproject/urls.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.csrf import csrf_failure as default_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie

from games import access, jsonlimits, services
from games.cluster import presence, tickets
from games.engine import GAMES
from games.models import Match, Participant, Player, Replay
from games.payloads import (
    CreateMatchRequest,
    JoinByCodeRequest,
    PlayComputerRequest,
    PlayNowRequest,
    RematchRequest,
    game_json,
    history_entry_json,
    lobby_json,
    match_json,
    player_json,
    rematch_json,
)
from games.replays import replay_frames

logger = logging.getLogger(__name__)
API_PREFIX = "/api/"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_SERVICE_STATUS: dict[type[services.ServiceError], int] = {
    services.InvalidRequest: 400,
    services.InvalidResult: 400,
    services.PlayerBanned: 403,
    services.PlayerMuted: 403,
    services.QueueCooldown: 429,
    services.MatchNotFound: 404,
    services.MatchNotJoinable: 409,
    services.MatchFull: 409,
    services.AlreadySeated: 409,
    services.AlreadyPlaying: 409,
    services.IllegalTransition: 409,
}


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


View = Callable[..., HttpResponse]
T = TypeVar("T")


def api_view(*methods: str) -> Callable[[View], View]:
    """Allow only `methods`, and turn every refusal into a JSON error response."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error_response(
                    405, "method_not_allowed", f"Use {' or '.join(methods)} here."
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except Http404:
                return _not_found(request)
            except services.ServiceError as exc:
                return error_response(_SERVICE_STATUS.get(type(exc), 400), exc.code, exc.message)

        return wrapper

    return decorate


def _acting_player(request: HttpRequest) -> Player:
    player = access.get_player(request.user)
    if player is None:
        raise ApiError(401, "not_authenticated", "Log in or play as a guest first.")
    return player


def _body(request: HttpRequest, shape: type[T]) -> T:
    raw = _raw_body(request)
    depth = settings.API_MAX_JSON_DEPTH
    if jsonlimits.too_deep(raw, depth):
        raise ApiError(400, "too_deep", f"The request body nests more than {depth} levels deep.")
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "invalid_request", f"Invalid request body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from exc


def _raw_body(request: HttpRequest) -> bytes:
    limit = settings.API_MAX_BODY_BYTES
    too_large = ApiError(413, "too_large", f"The request body is larger than {limit} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large  # before reading it
    try:
        raw = request.body or b"{}"
    except RequestDataTooBig as exc:
        raise too_large from exc
    if len(raw) > limit:
        raise too_large
    return raw


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> tuple[Page[Any], dict[str, Any]]:
    """One page of `queryset` from ?page=N&page_size=M (20 by default, 100 at most)."""
    try:
        number = int(request.GET.get("page", "1"))
        size = int(request.GET.get("page_size", "20"))
    except ValueError as exc:
        raise ApiError(400, "invalid_page", "page and page_size must be whole numbers.") from exc
    if not 1 <= size <= 100:
        raise ApiError(400, "invalid_page", "page_size must be from 1 to 100.")
    paginator = Paginator(queryset, size)
    try:
        page = paginator.page(number)
    except EmptyPage as exc:
        raise ApiError(404, "page_not_found", f"There is no page {number}.") from exc
    meta = {"page": page.number, "pages": paginator.num_pages, "count": paginator.count}
    return page, meta


@api_view("GET")
def games(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"games": [game_json(game) for game in GAMES.values()]})


@ensure_csrf_cookie  # API clients fetch /api/me/ first to get the token for their POSTs
@api_view("GET")
def me(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"player": player_json(_acting_player(request))})


@api_view("GET", "POST")
def matches(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create_match(request)
    game = request.GET.get("game", "")
    if game not in GAMES:
        known = ", ".join(sorted(GAMES))
        raise ApiError(400, "invalid_request", f"Pass ?game= with one of: {known}.")
    page, meta = _page(request, Match.objects.open_lobby(game).with_participants())
    return JsonResponse({**meta, "results": [match_json(m) for m in page]})


def _create_match(request: HttpRequest) -> HttpResponse:
    player = _acting_player(request)
    body = _body(request, CreateMatchRequest)
    match = services.create_match(
        player,
        body.game,
        is_private=body.private,
        max_players=body.max_players,
        settings=body.settings,
    )
    match = access.get_visible_match(request.user, match.pk)
    return JsonResponse(match_json(match, with_code=True), status=201)


@api_view("POST")
def quick_join(request: HttpRequest) -> HttpResponse:
    """Join-or-create an open public match: "Play now" for a client without a lobby socket.

    The queue fills such matches too, so this player meets those who queued.
    """
    player = _acting_player(request)
    body = _body(request, PlayNowRequest)
    match = services.quick_join(player, body.game)
    match = access.get_visible_match(request.user, match.pk)
    return JsonResponse(match_json(match))


@api_view("POST")
def play_computer(request: HttpRequest) -> HttpResponse:
    """Play vs computer: a new private match with the player and bots seated, no waiting."""
    player = _acting_player(request)
    body = _body(request, PlayComputerRequest)
    match = services.create_bot_match(player, body.game, body.level)
    match = access.get_visible_match(request.user, match.pk)
    return JsonResponse(match_json(match, with_code=True), status=201)


@api_view("GET")
def lobby(request: HttpRequest) -> HttpResponse:
    """What the lobby socket pushes, for clients that poll: open matches, players online."""
    player = access.get_player(request.user)
    if player is not None:
        services.touch_player_if_stale(player)
    online = len(presence.online_players(presence.current()))
    return JsonResponse(lobby_json(online))


@api_view("GET")
def match_replay(request: HttpRequest, match_id: str) -> HttpResponse:
    """The stored replay, re-simulated on the server into frames a viewer can play."""
    match = access.get_visible_match(request.user, match_id)
    replay = Replay.objects.filter(match=match).first()
    if replay is None:
        raise ApiError(404, "replay_not_found", "This match has no replay (it did not finish).")
    return JsonResponse(replay_frames(replay))


@api_view("GET")
def match_detail(request: HttpRequest, match_id: str) -> HttpResponse:
    match = access.get_visible_match(request.user, match_id)
    return JsonResponse(match_json(match, with_code=_is_seated(request, match)))


def _is_seated(request: HttpRequest, match: Match) -> bool:
    return any(p.player.user_id == request.user.pk for p in match.participants.all())


@api_view("POST")
def join_match(request: HttpRequest, match_id: str) -> HttpResponse:
    player = _acting_player(request)
    match = access.get_visible_match(request.user, match_id)
    services.join_match(player, match.pk)
    return JsonResponse(match_json(access.get_visible_match(request.user, match.pk)))


@api_view("POST")
def join_by_code(request: HttpRequest) -> HttpResponse:
    player = _acting_player(request)
    body = _body(request, JoinByCodeRequest)
    participant = services.join_private_match(player, body.code)
    match = access.get_visible_match(request.user, participant.match_id)
    return JsonResponse(match_json(match, with_code=True))


@api_view("POST")
def leave_match(request: HttpRequest, match_id: str) -> HttpResponse:
    player = _acting_player(request)
    match = access.get_visible_match(request.user, match_id)
    services.leave_waiting_match(player, match.pk)
    return HttpResponse(status=204)


@api_view("GET", "POST")
def rematch(request: HttpRequest, match_id: str) -> HttpResponse:
    """A finished match's rematch: where it stands (GET), or this player's answer (POST)."""
    player = _acting_player(request)
    if request.method == "GET":
        return JsonResponse(rematch_json(services.rematch_state(player, match_id)))
    body = _body(request, RematchRequest)
    if body.answer == "yes":
        state = services.ask_rematch(player, match_id)
    else:
        state = services.decline_rematch(
            player, match_id, "left" if body.answer == "leave" else "declined"
        )
    return JsonResponse(rematch_json(state))


@api_view("POST")
def match_ticket(request: HttpRequest, match_id: str) -> HttpResponse:
    """A single-use ticket to open this match's socket without a session cookie."""
    player = _acting_player(request)
    services.check_can_play(player)
    match = access.get_visible_match(request.user, match_id)
    ticket = tickets.issue(player.user_id, str(match.pk))
    return JsonResponse(
        {
            "ticket": ticket,
            "expires_in": tickets.TICKET_SECONDS,
            "url": f"/ws/match/{match.pk}/?ticket={ticket}",
        },
        status=201,
    )


@api_view("GET")
def leaderboard(request: HttpRequest) -> HttpResponse:
    page, meta = _page(request, Player.objects.leaderboard())
    first_rank = page.start_index()
    results = [
        {"rank": first_rank + index, **player_json(player)} for index, player in enumerate(page)
    ]
    return JsonResponse({**meta, "results": results})


@api_view("GET")
def player_detail(request: HttpRequest, player_id: int) -> HttpResponse:
    return JsonResponse({"player": player_json(_player(player_id))})


@api_view("GET")
def player_matches(request: HttpRequest, player_id: int) -> HttpResponse:
    player = _player(player_id)
    history = Participant.objects.history_for(player)
    if not (request.user.is_authenticated and request.user.pk == player.user_id):
        history = history.filter(match__is_private=False)
    page, meta = _page(request, history)
    return JsonResponse({**meta, "results": [history_entry_json(p) for p in page]})


def _player(player_id: int) -> Player:
    try:
        return Player.objects.get(pk=player_id)
    except Player.DoesNotExist as exc:
        raise ApiError(404, "player_not_found", "No such player.") from exc


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for API clients, Django's page for everyone else (settings.CSRF_FAILURE_VIEW)."""
    if request.path.startswith("/api/"):
        return error_response(
            403,
            "csrf_failed",
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.",
        )
    return default_csrf_failure(request, reason)


@api_view("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    """Whatever is under /api/ and matches no endpoint (games/urls.py routes it here)."""
    return _not_found(request)


def _not_found(request: HttpRequest) -> JsonResponse:
    message = f"There is no endpoint {request.path} (see docs/api.md)."
    if not request.path.endswith("/") and _resolves(request.path + "/"):
        message = f"There is no endpoint {request.path}; did you mean {request.path}/ ?"
    return error_response(404, "not_found", message)


def _resolves(path: str) -> bool:
    try:
        return resolve(path).func is not unknown_endpoint
    except Resolver404:
        return False


# Django's own error responses (handler400/403/404/500 in gameproject/urls.py): JSON
# under /api/, Django's pages everywhere else. None of them carries a traceback.


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(403, "forbidden", "You may not do that.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django has logged the exception with its traceback; the client gets none."""
    if _is_api(request):
        return error_response(
            500, "server_error", "Something went wrong on the server; it has been logged."
        )
    return defaults.server_error(request)
